"""Sparse solves: SuperLU or pyamg for symmetric positive definite systems, SuperLU with a
nested-dissection ordering (METIS) for saddle-point systems.

pyamg's smoothed aggregation is a maintained, well-tested AMG; writing our own would only
add risk. SuperLU keeps its default COLAMD ordering (MMD was 300x slower in the prototype).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyamg
import pymetis
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from solvers.errors import ProblemError, SolverError

# "auto" uses SuperLU up to this many unknowns and AMG-preconditioned CG above. Measured on
# 2 cores (benchmarks/solver_scaling.py, setup + solve): 2D 10k 0.04 s direct vs 0.03 s AMG,
# 2D 100k 1.1 s vs 0.24 s; 3D 100k 107 s vs 0.63 s (fill-in makes direct costly earlier).
DIRECT_MAX_UNKNOWNS = {2: 50_000, 3: 20_000}
METHODS = ("auto", "direct", "amg")


@dataclass(frozen=True)
class SolverOptions:
    """How linear systems are solved.

    method: "auto" (by size, see DIRECT_MAX_UNKNOWNS), "direct" or "amg".
    rtol: relative residual ||b - A x|| / ||b|| the AMG-CG iteration must reach.
    maxiter: AMG-CG iteration limit; not reaching rtol within it raises SolverError.
    """

    method: str = "auto"
    rtol: float = 1e-8
    maxiter: int = 500

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ProblemError(
                f"solver method '{self.method}' is unknown; expected one of {METHODS}."
            )


def factorize(
    matrix: sp.sparray,
    options: SolverOptions = SolverOptions(),
    dim: int = 2,
    near_nullspace: np.ndarray | None = None,
) -> Callable[[np.ndarray], np.ndarray]:
    """Prepare a reusable solver x = solve(b) for an SPD matrix (factorisation or AMG setup).

    near_nullspace: (n, k) modes AMG should resolve (rigid body modes for elasticity).
    """
    matrix = sp.csr_matrix(matrix)
    n = matrix.shape[0]
    if n == 0:
        return lambda b: np.zeros(0)
    method = options.method
    if method == "auto":
        method = "direct" if n <= DIRECT_MAX_UNKNOWNS.get(dim, DIRECT_MAX_UNKNOWNS[3]) else "amg"
    if method == "direct":
        return _superlu(matrix.tocsc()).solve
    hierarchy = amg_hierarchy(matrix, near_nullspace)
    return lambda b: _amg_cg(matrix, hierarchy, b, options)


def amg_hierarchy(matrix: sp.csr_matrix, near_nullspace: np.ndarray | None):
    """Classical (Ruge-Stueben) AMG for scalar problems; smoothed aggregation with the given
    near-nullspace (rigid body modes) for vector ones.

    Measured on a 1M-node 2D Poisson matrix (2 cores): classical AMG with strength 0.5 and
    direct interpolation needs 10 CG iterations for 1e-8 (3.1 s setup + 2.0 s solve), smoothed
    aggregation 25-33 (2.7 s + 5.4 s). A forward sweep before and a backward sweep after keep
    the V-cycle symmetric, as CG requires, at half the cost of symmetric sweeps.
    """
    forward, backward = (
        ("gauss_seidel", {"sweep": "forward"}),
        ("gauss_seidel", {"sweep": "backward"}),
    )
    if near_nullspace is None:
        return pyamg.ruge_stuben_solver(
            matrix,
            strength=("classical", {"theta": 0.5}),
            interpolation="direct",
            presmoother=forward,
            postsmoother=backward,
        )
    return pyamg.smoothed_aggregation_solver(
        matrix, B=near_nullspace, symmetry="symmetric", presmoother=forward, postsmoother=backward
    )


def _amg_cg(matrix, hierarchy, rhs: np.ndarray, options: SolverOptions) -> np.ndarray:
    norm_b = np.linalg.norm(rhs)
    if norm_b == 0:
        return np.zeros_like(rhs)
    residuals: list[float] = []
    # pyamg stops on the recursively updated residual; aim lower so the true one meets rtol.
    x = hierarchy.solve(
        rhs, tol=0.5 * options.rtol, maxiter=options.maxiter, accel="cg", residuals=residuals
    )
    reached = np.linalg.norm(rhs - matrix @ x) / norm_b
    if not np.isfinite(reached) or reached > options.rtol:
        raise SolverError(
            f"AMG-preconditioned CG did not converge: relative residual {reached:.2e} after "
            f"{len(residuals) - 1} iterations; expected {options.rtol:.0e} within "
            f"{options.maxiter} (is the matrix symmetric positive definite?)."
        )
    return x


class ConstrainedSystem:
    """A system A u = b with some unknowns prescribed, prepared once and solved many times.

    The prescribed (Dirichlet) unknowns are eliminated: A_ff u_f = b_f - A_fd u_d keeps the
    reduced matrix symmetric positive definite, so the factorisation or AMG hierarchy of
    A_ff is built once and reused (time stepping reuses it at every step).
    """

    def __init__(
        self,
        matrix: sp.sparray,
        fixed: np.ndarray,
        options: SolverOptions = SolverOptions(),
        dim: int = 2,
        near_nullspace: np.ndarray | None = None,
    ) -> None:
        matrix = sp.csr_matrix(matrix)
        n = matrix.shape[0]
        is_free = np.ones(n, dtype=bool)
        is_free[fixed] = False
        self.n, self.fixed, self.free = n, np.asarray(fixed), np.flatnonzero(is_free)
        free_rows = matrix[self.free]
        self._coupling = free_rows[:, self.fixed]
        nullspace = None if near_nullspace is None else near_nullspace[self.free]
        self._solve = factorize(free_rows[:, self.free], options, dim, nullspace)

    def solve(self, rhs: np.ndarray, fixed_values: np.ndarray) -> np.ndarray:
        """(n,) solution with u[fixed] = fixed_values and the free rows of A u = rhs."""
        u = np.empty(self.n)
        u[self.fixed] = fixed_values
        u[self.free] = self._solve(rhs[self.free] - self._coupling @ fixed_values)
        return u


class SaddlePointLU:
    """SuperLU factorisations of nonsymmetric, structurally symmetric matrices (saddle-point
    systems with a zero block) that all share one sparsity pattern, as time steps do.

    The fill-reducing ordering depends on the pattern alone, so it is computed once: METIS
    nested dissection of the pattern's graph (a maintained library; nested dissection is
    the ordering of choice for 2D meshes). Each matrix is permuted by it through a
    precomputed gather of its values and factorised in that order, with a weak diagonal
    preference. Measured on a 2k-vertex Taylor-Hood system (2 cores), per factorisation:
    0.069 s; SuperLU's minimum degree on A + A^T 0.089 s computed once, 0.106 s recomputed
    for every matrix (as before); its default COLAMD 0.23 s.
    """

    def __init__(self, indices: np.ndarray, indptr: np.ndarray) -> None:
        self.size = len(indptr) - 1
        pattern = sp.csr_matrix((np.ones(len(indices)), indices, indptr), (self.size,) * 2)
        graph = sp.csr_matrix(pattern + pattern.T)
        graph.setdiag(0)
        graph.eliminate_zeros()
        self._order = np.asarray(
            pymetis.nested_dissection(pymetis.CSRAdjacency(graph.indptr, graph.indices))[0]
        )
        # Permute a matrix whose values number its entries, to read off where each goes.
        entries = sp.csc_matrix(
            (np.arange(1, len(indices) + 1, dtype=np.float64), indices, indptr), pattern.shape
        )
        permuted = sp.csc_matrix(entries[self._order][:, self._order])
        permuted.sort_indices()
        self._gather = permuted.data.astype(np.int64) - 1
        self._permuted = (permuted.indices, permuted.indptr)

    def factorize(self, data: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """x = solve(b) for the matrix with these values on the pattern (CSC data order)."""
        matrix = sp.csc_matrix((data[self._gather], *self._permuted), (self.size,) * 2)
        lu = _superlu(
            matrix, permc_spec="NATURAL", diag_pivot_thresh=0.01, options={"SymmetricMode": True}
        )
        order = self._order

        def solve(b: np.ndarray) -> np.ndarray:
            x = np.empty_like(b)
            x[order] = lu.solve(b[order])
            return x

        return solve


def _superlu(matrix: sp.csc_matrix, **options) -> spla.SuperLU:
    """spla.splu with an exactly singular factor reported as a SolverError."""
    try:
        return spla.splu(matrix, **options)
    except RuntimeError as error:  # SuperLU's way of reporting a zero pivot
        raise SolverError(
            f"the system matrix is singular ({error}); expected boundary conditions that "
            "determine the solution uniquely."
        ) from None
