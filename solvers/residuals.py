"""Residuals of the discrete equations, evaluated on any field (a surrogate's prediction):
how far it is from satisfying what the solver solves, without a solve (assembly and a
product). Each is zero, up to the solver's tolerance, on the solver's own solution.

A Residual holds per-node values (the free rows of b - A u, in units of the load; zero
at prescribed nodes) and a dimensionless figure per state: ||b - A u|| / (||b|| + ||A u||)
over the free rows, 0 for an exact solution and about 1 for one unrelated to it.

The linear families also estimate the error itself: e = u - solution solves A e = -r on
the free rows (and, for a time step, carries the previous step's error), so a few
AMG-preconditioned CG iterations on that error equation turn the residual into an
estimated error field and an estimated relative L2 error. The residual's l2 norm weighs
the short wavelengths of an error (a rough prediction) far above the long ones that
dominate its L2 norm; the multigrid cycles weigh them as the solve would. It costs a
multigrid setup and ESTIMATE_ITERATIONS cycles per state, not a solve to tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from solvers.boundary import Spec, dirichlet_dofs
from solvers.diffusion import diffusion_load, diffusion_matrix
from solvers.elasticity import elasticity_system, rigid_body_modes
from solvers.fem import Field, mass
from solvers.flow_system import FlowSystem
from solvers.linalg import amg_hierarchy
from solvers.mesh import Mesh
from solvers.navier_stokes import FlowProblem

# AMG-CG iterations per state for the error estimate: on a holes plate (3.7k nodes) a
# smooth error is estimated to 17% after 1, 5% after 2, 1% after 3 (a solve to the
# solver's 1e-8 takes about 10); tests/test_residuals.py checks the 2 chosen.
ESTIMATE_ITERATIONS = 2


@dataclass(frozen=True)
class Residual:
    """values: (S, N) or (S, N, d) per node; relative: (S,) dimensionless; error: the
    estimated error (state - solution) per node, shaped as values, and estimate: (S,) its
    relative L2 norm ||error|| / ||state|| (None where the family has no estimate)."""

    values: np.ndarray
    relative: np.ndarray
    error: np.ndarray | None = None
    estimate: np.ndarray | None = None


def poisson_residual(
    mesh: Mesh,
    states: np.ndarray,
    kappa: Field = 1.0,
    source: Field = 0.0,
    dirichlet: Spec = None,
    neumann: Spec = None,
    robin: Spec = None,
) -> Residual:
    """Of -div(kappa grad u) = source for each (N,) state in states (S, N)."""
    matrix = diffusion_matrix(mesh, kappa, robin)
    load = diffusion_load(mesh, source, neumann, robin)
    fixed, _ = dirichlet_dofs(mesh, dirichlet)
    states = np.atleast_2d(states)
    residual = _residual(np.broadcast_to(load, states.shape), states @ matrix.T, fixed)
    return _with_estimate(residual, states, matrix, fixed)


def heat_residual(
    mesh: Mesh,
    trajectory: np.ndarray,
    kappa: Field = 1.0,
    source: Field = 0.0,
    dirichlet: Spec = None,
    neumann: Spec = None,
    robin: Spec = None,
    dt: float = 0.01,
    theta: float = 1.0,
) -> Residual:
    """Of each theta-scheme step from trajectory[n] to trajectory[n + 1] (as solvers.heat
    takes it, with time-independent data), for a trajectory (S + 1, N): S states."""
    stiffness, mass_matrix = diffusion_matrix(mesh, kappa, robin), mass(mesh)
    load = dt * diffusion_load(mesh, source, neumann, robin)
    fixed, _ = dirichlet_dofs(mesh, dirichlet)
    before, after = trajectory[:-1], trajectory[1:]
    carry, step = mass_matrix - (1 - theta) * dt * stiffness, mass_matrix + theta * dt * stiffness
    residual = _residual(before @ carry.T + load, after @ step.T, fixed)
    return _with_estimate(residual, after, step, fixed, carry)


def elasticity_residual(
    mesh: Mesh,
    states: np.ndarray,
    E: Field = 1.0,
    nu: Field = 0.3,
    body_force: Spec = None,
    dirichlet: Spec = None,
    traction: Spec = None,
    plane: str = "strain",
) -> Residual:
    """Of -div sigma(u) = body_force for each displacement (N, d) in states (S, N, d)."""
    matrix, rhs, fixed, _ = elasticity_system(mesh, E, nu, body_force, dirichlet, traction, plane)
    states = np.asarray(states).reshape(-1, mesh.num_nodes * mesh.dim)
    residual = _residual(np.broadcast_to(rhs, states.shape), states @ matrix.T, fixed)
    modes = rigid_body_modes(mesh.points)
    residual = _with_estimate(residual, states, matrix, fixed, near_nullspace=modes)
    shape = (len(states), mesh.num_nodes, mesh.dim)
    return Residual(
        residual.values.reshape(shape),
        residual.relative,
        residual.error.reshape(shape),
        residual.estimate,
    )


def flow_residual(
    problem: FlowProblem, velocity: np.ndarray, pressure: np.ndarray, dt: float
) -> tuple[Residual, Residual]:
    """Of each backward-Euler step of the Taylor-Hood Navier-Stokes system from one vertex
    state to the next, for velocity (S + 1, N, 2) and pressure (S + 1, N): S states.

    (momentum, continuity): the velocity rows (per vertex (S, N, 2)) and the pressure rows
    ((S, N), the discrete divergence B u, relative to |Bx| |ux| + |By| |uy|). The P2 velocity is
    rebuilt from the vertices (edge midpoints: the mean of their ends), so, unlike the
    other residuals, it is not zero on the solver's own states, which come from P2 fields
    and BDF substeps: it has a floor of the order of the discretisation error there
    (measured in the tests); the prescribed values are the states' own."""
    system = FlowSystem(problem)
    space, n, nodes = system.space, system.n, problem.mesh.num_nodes
    bx, by = system.divergence[:, :n], system.divergence[:, n:]
    free = np.ones(2 * n, dtype=bool)
    free[system.fixed[system.fixed < 2 * n]] = False
    momentum, continuity = [], []
    for before, after, p in zip(velocity[:-1], velocity[1:], pressure[1:], strict=True):
        u0, u1 = _p2(space, before), _p2(space, after)
        x = np.concatenate([u1.T.ravel(), p])
        applied = system.matrix(1 / dt, 0.5 * space.local_convection_jacobian(u1)) @ x
        known = (system.mass @ u0).T.ravel() / dt
        values = np.where(free, known - applied[: 2 * n], 0.0)
        scale = np.linalg.norm(known[free]) + np.linalg.norm(applied[: 2 * n][free])
        momentum.append((values.reshape(2, n).T[:nodes], _ratio(values, scale)))
        divergence = bx @ u1[:, 0] + by @ u1[:, 1]
        bound = abs(bx) @ np.abs(u1[:, 0]) + abs(by) @ np.abs(u1[:, 1])  # no cancellation
        continuity.append((divergence, _ratio(divergence, np.linalg.norm(bound))))
    return tuple(  # type: ignore[return-value]
        Residual(np.array([v for v, _ in rows]), np.array([r for _, r in rows]))
        for rows in (momentum, continuity)
    )


def _p2(space, vertex_velocity: np.ndarray) -> np.ndarray:
    """(n, 2) P2 values of a vertex velocity (N, 2): edge midpoints get their ends' mean."""
    return np.concatenate([vertex_velocity, vertex_velocity[space.edges].mean(axis=1)])


def _ratio(values: np.ndarray, scale: float) -> float:
    return float(np.linalg.norm(values) / max(scale, np.finfo(float).tiny))


def _with_estimate(
    residual: Residual,
    states: np.ndarray,
    matrix,
    fixed: np.ndarray,
    carry=None,
    near_nullspace: np.ndarray | None = None,
) -> Residual:
    """residual with the estimated error of each state (S, n): ESTIMATE_ITERATIONS of
    AMG-preconditioned CG on A_ff e_f = -r_f, plus (C e_before)_f for a step whose known side
    applied C to the state before it (the state before a trajectory is given: error 0),
    started from the error estimated for the state before, so that a step's error carries
    on instead of being cut by each short solve. Prescribed values come with the states:
    their error is taken as 0."""
    free = np.ones(matrix.shape[0], dtype=bool)
    free[fixed] = False
    errors = np.zeros(residual.values.shape)
    if free.any():
        reduced = sp.csr_matrix(matrix)[free][:, free]
        nullspace = None if near_nullspace is None else near_nullspace[free]
        hierarchy = amg_hierarchy(reduced, nullspace)
        before = np.zeros(matrix.shape[0])
        for k, values in enumerate(residual.values):
            rhs = -values[free] if carry is None else (carry @ before)[free] - values[free]
            start = before[free] if carry is not None else None
            # tol 0: exactly ESTIMATE_ITERATIONS iterations, never a solve to tolerance
            errors[k, free] = hierarchy.solve(
                rhs, x0=start, tol=0.0, maxiter=ESTIMATE_ITERATIONS, accel="cg"
            )
            before = errors[k]
    norms = np.linalg.norm(states, axis=1)
    estimate = np.linalg.norm(errors, axis=1) / np.maximum(norms, np.finfo(float).tiny)
    return Residual(residual.values, residual.relative, errors, estimate)


def _residual(rhs: np.ndarray, applied: np.ndarray, fixed: np.ndarray) -> Residual:
    values = np.array(rhs - applied)
    values[:, fixed] = 0.0
    free = np.ones(values.shape[1], dtype=bool)
    free[fixed] = False
    scale = np.linalg.norm(rhs[:, free], axis=1) + np.linalg.norm(applied[:, free], axis=1)
    relative = np.linalg.norm(values, axis=1) / np.maximum(scale, np.finfo(float).tiny)
    return Residual(values, relative)
