"""The assembled saddle-point system of a flow problem: Taylor-Hood matrices, Dirichlet
velocities, and a fixed sparsity pattern on which every time step's matrix is summed.

Unknowns are ordered [u_x (n), u_y (n), p (N)]. The pattern (P2 cell couplings in all four
velocity blocks plus the divergence blocks) is built once; a step's matrix is then the
cached Stokes values plus a bincount of the cell Jacobians into the same data array, and
Dirichlet rows become identity rows by overwriting data: no sparse sums, conversions or
index sorting per step (they took a third of a step's time on 2k vertices).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from solvers.errors import ProblemError
from solvers.fem import checked_array
from solvers.linalg import SaddlePointLU
from solvers.mesh import Mesh
from solvers.taylor_hood import TaylorHood

# A velocity on a part: a pair of numbers, or a callable (x (P, 2), t) -> (P, 2) values.
Velocity = tuple[float, float] | Callable[[np.ndarray, float], np.ndarray]


class FlowSystem:
    """Matrices, Dirichlet unknowns and force rows of a FlowProblem."""

    def __init__(self, problem) -> None:
        self.problem = problem
        self.space = space = TaylorHood(problem.mesh, problem.curved)
        self.n, n_p = space.num_dofs, problem.mesh.num_nodes
        self.size = 2 * self.n + n_p
        self.mass, self.stiffness = space.mass(), space.stiffness()
        self.penalty = problem.grad_div * space.grad_div() if problem.grad_div else None
        bx, by = space.divergence()
        self.divergence = sp.hstack([bx, by], format="csr")
        self.h_cells = problem.mesh.cell_sizes
        self.h_min = float(self.h_cells.min())
        self.parts = [(part, self._part_dofs(part), v) for part, v in problem.velocity.items()]
        self.velocity_dofs = np.unique(np.concatenate([dofs for _, dofs, _ in self.parts]))
        fixed = [self.velocity_dofs, self.n + self.velocity_dofs]
        self.pinned_pressure = _closed(problem.mesh, problem.velocity)
        if self.pinned_pressure:  # no outflow: pressure is defined up to a constant
            fixed.append(np.array([2 * self.n]))
        self.fixed = np.concatenate(fixed)
        self.force_rows = None
        if problem.force_part is not None:
            self.force_rows = self._part_dofs(problem.force_part)
        self._build_pattern()
        self._stokes: dict[float, np.ndarray] = {}

    def _part_dofs(self, part: str) -> np.ndarray:
        return self.space.facet_dofs(self.problem.mesh.boundary_parts[part])

    # ---- matrices on the fixed pattern ----------------------------------------------------
    def _build_pattern(self) -> None:
        cell = self.space.vector_cell_dofs
        rows = [np.repeat(cell, 12, axis=1).ravel()]
        cols = [np.tile(cell, (1, 12)).ravel()]
        b = self.divergence.tocoo()
        rows += [2 * self.n + b.row, b.col, self.fixed]  # fixed: their identity rows
        cols += [b.col, 2 * self.n + b.row, self.fixed]
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        shape = (self.size, self.size)
        pattern = sp.csc_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)
        pattern.sum_duplicates()
        self._indices, self._indptr = pattern.indices, pattern.indptr
        columns = np.repeat(np.arange(self.size), np.diff(self._indptr))
        self._keys = columns.astype(np.int64) * self.size + self._indices
        self._jacobian_slots = self._slots(rows[: cell.size * 12], cols[: cell.size * 12])
        is_fixed = np.zeros(self.size, dtype=bool)
        is_fixed[self.fixed] = True
        self._fixed_entries = np.flatnonzero(is_fixed[self._indices])
        self._fixed_diagonal = self._slots(self.fixed, self.fixed)

    @cached_property
    def _lu(self) -> SaddlePointLU:
        """The factorisation's ordering, made on the first solve (a residual needs none)."""
        return SaddlePointLU(self._indices, self._indptr)

    def _slots(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Positions of entries (rows, cols) in the pattern's data array."""
        return np.searchsorted(self._keys, cols.astype(np.int64) * self.size + rows)

    def _matrix(self, data: np.ndarray) -> sp.csc_matrix:
        return sp.csc_matrix((data, self._indices, self._indptr), shape=(self.size,) * 2)

    def _stokes_data(self, shift: float) -> np.ndarray:
        """Pattern values of [[shift M + nu K + gamma G, -B^T], [-B, 0]] (cached per shift;
        G the grad-div matrix)."""
        if shift not in self._stokes:
            block = shift * self.mass + self.problem.nu * self.stiffness
            velocity = sp.block_diag([block, block])
            if self.penalty is not None:
                velocity = velocity + self.penalty
            b = self.divergence
            coo = sp.bmat([[velocity, -b.T], [-b, None]], format="coo")
            slots = self._slots(coo.row, coo.col)
            self._stokes[shift] = np.bincount(slots, coo.data, len(self._keys))
        return self._stokes[shift]

    def stokes(self, shift: float) -> sp.csc_matrix:
        return self._matrix(self._stokes_data(shift))

    def matrix(self, shift: float, local_jacobian: np.ndarray) -> sp.csc_matrix:
        """stokes(shift) plus the convection Jacobian given by its (M, 12, 12) cell matrices
        (TaylorHood.local_convection_jacobian)."""
        jacobian = np.bincount(self._jacobian_slots, local_jacobian.ravel(), len(self._keys))
        return self._matrix(self._stokes_data(shift) + jacobian)

    def factorize(self, matrix: sp.csc_matrix) -> Callable[[np.ndarray], np.ndarray]:
        """x = solve(rhs) of matrix (on this pattern) with the fixed unknowns' rows made
        identity rows: rhs at the fixed unknowns is their value."""
        data = matrix.data.copy()
        data[self._fixed_entries] = 0.0
        data[self._fixed_diagonal] = 1.0
        return self._lu.factorize(data)

    def solve(self, matrix: sp.csc_matrix, rhs: np.ndarray, values) -> np.ndarray:
        """Solution of matrix x = rhs (a matrix on this pattern) with the fixed unknowns set
        to values (an array for all of them, or one number)."""
        rhs = rhs.copy()
        rhs[self.fixed] = values
        return self.factorize(matrix)(rhs)

    # ---- values ---------------------------------------------------------------------------
    def fixed_values(self, t: float | None) -> np.ndarray:
        """Values of the fixed unknowns at time t (later parts win on shared unknowns)."""
        values = np.zeros((self.n, 2))
        for part, dofs, value in self.parts:
            values[dofs] = _velocity_values(value, self.space.dof_points[dofs], t, part)
        out = values[self.velocity_dofs].T.ravel()
        return np.append(out, 0.0) if self.pinned_pressure else out

    def split(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Velocity (n, 2) and pressure (N,) of a solution vector."""
        return x[: 2 * self.n].reshape(2, self.n).T, x[2 * self.n :]

    def normalised(self, p: np.ndarray) -> np.ndarray:
        """Pressure with zero mean when only its gradient is determined."""
        if not self.pinned_pressure:
            return p
        volumes = self.problem.mesh.cell_volumes
        mean = (p[self.problem.mesh.cells].mean(axis=1) * volumes).sum() / volumes.sum()
        return p - mean

    def cfl_rate(self, u: np.ndarray) -> float:
        """max over cells of |u| / h: the CFL number per unit time step."""
        return float((self.space.cell_speeds(u) / self.h_cells).max())

    def initial(self, u0: np.ndarray | None, t0: float) -> np.ndarray:
        """(n, 2) P2 initial velocity with the Dirichlet values at t0."""
        u = np.zeros((self.n, 2))
        if u0 is not None:
            mesh = self.problem.mesh
            u0 = np.asarray(u0, dtype=np.float64)
            if u0.shape == (mesh.num_nodes, 2):  # vertex values: midpoints by averaging
                u0 = np.concatenate([u0, u0[self.space.edges].mean(axis=1)])
            u = checked_array(u0, (self.n, 2), "initial velocity u0").copy()
        count = len(self.velocity_dofs)
        u[self.velocity_dofs] = self.fixed_values(t0)[: 2 * count].reshape(2, count).T
        return u

    def force(self, matrix: sp.sparray, x: np.ndarray, rhs: np.ndarray) -> np.ndarray | None:
        """Force of the fluid on force_part: minus the momentum residual of the unconstrained
        system at the part's unknowns.

        Testing the weak momentum equation with functions that are one on the part gives
        the boundary integral of the traction there (the volume form of Babuska and Miller),
        more accurate than integrating stresses along the boundary.
        """
        if self.force_rows is None:
            return None
        residual = (matrix @ x - rhs)[: 2 * self.n].reshape(2, self.n)
        return -residual[:, self.force_rows].sum(axis=1)


def _closed(mesh: Mesh, velocity: Mapping[str, Velocity]) -> bool:
    """True when Dirichlet parts cover the whole boundary (no outflow)."""
    covered = np.zeros(mesh.num_nodes, dtype=bool)
    for part in velocity:
        covered[mesh.part_nodes(part)] = True
    return bool(covered[mesh.boundary_nodes].all())


def _velocity_values(value: Velocity, x: np.ndarray, t: float | None, part: str) -> np.ndarray:
    name = f"velocity on part '{part}'"
    raw = value(x, 0.0 if t is None else t) if callable(value) else value
    try:
        raw = np.broadcast_to(np.asarray(raw, dtype=np.float64), (len(x), 2))
    except (TypeError, ValueError):
        raise ProblemError(
            f"{name} has shape {np.shape(raw)}; expected two components per point."
        ) from None
    return checked_array(raw, (len(x), 2), name)
