"""Residuals of the discrete equations, evaluated on any field (a surrogate's prediction):
how far it is from satisfying what the solver solves, without a solve (assembly and a
product). Each is zero, up to the solver's tolerance, on the solver's own solution (the
flow's has a floor there: flow_residual says why).

A Residual holds per-node values (the free rows of b - A u, in units of the load; zero
at prescribed nodes) and a dimensionless figure per state: ||b - A u|| / (||b|| + ||A u||)
over the free rows, 0 for an exact solution and about 1 for one unrelated to it.

Each also estimates the error itself: e = u - solution solves A e = -r on the free rows
(a time step also carries the previous steps' errors; the flow's equation is its Newton
linearisation), so a few iterations on that error equation turn the residual into an
estimated error field and an estimated relative L2 error. The residual's l2 norm weighs
the short wavelengths of an error (a rough prediction) far above the long ones that
dominate its L2 norm; the error equation weighs them as the solve would. The linear
families take ESTIMATE_ITERATIONS AMG-preconditioned CG iterations per state, the flow one
correction with an LU refreshed every FLOW_REFACTOR steps: not a solve to tolerance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from solvers.boundary import Spec, dirichlet_dofs
from solvers.diffusion import diffusion_load, diffusion_matrix
from solvers.elasticity import elasticity_system, rigid_body_modes
from solvers.fem import Field, mass, recovered_gradients
from solvers.flow_system import FlowSystem
from solvers.linalg import amg_hierarchy
from solvers.mesh import Mesh
from solvers.navier_stokes import BDF, DEFAULT_ORDER, FlowProblem

# AMG-CG iterations per state for the error estimate: on a holes plate (3.7k nodes) a
# smooth error is estimated to 17% after 1, 5% after 2, 1% after 3 (a solve to the
# solver's 1e-8 takes about 10); tests/solvers/test_residuals.py checks the 2 chosen.
ESTIMATE_ITERATIONS = 2


# Steps between factorisations of the flow's linearised step for its error estimate.
FLOW_REFACTOR = 25


@dataclass(frozen=True)
class Residual:
    """values: (S, N) or (S, N, d) per node; relative: (S,) dimensionless; error: the
    estimated error (state - solution) per node, shaped as values, and estimate: (S,) its
    relative L2 norm ||error|| / ||state||."""

    values: np.ndarray
    relative: np.ndarray
    error: np.ndarray
    estimate: np.ndarray


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
    rhs = np.broadcast_to(load, states.shape)
    return _linear_residual(rhs, states @ matrix.T, states, matrix, fixed)


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
    return _linear_residual(before @ carry.T + load, after @ step.T, after, step, fixed, carry)


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
    rhs, modes = np.broadcast_to(rhs, states.shape), rigid_body_modes(mesh.points)
    found = _linear_residual(rhs, states @ matrix.T, states, matrix, fixed, None, modes)
    shape = (len(states), mesh.num_nodes, mesh.dim)
    return Residual(
        found.values.reshape(shape), found.relative, found.error.reshape(shape), found.estimate
    )


def flow_residual(
    problem: FlowProblem, velocity: np.ndarray, pressure: np.ndarray, dt: float
) -> tuple[Residual, Residual]:
    """Of each step of the Taylor-Hood Navier-Stokes system from the vertex states before it
    to the next, for velocity (S + 1, N, 2) and pressure (S + 1, N): S states; the steps
    are the solver's BDF of DEFAULT_ORDER, of lower order while fewer states precede.

    (momentum, continuity): the velocity rows (per vertex (S, N, 2)) and the pressure rows
    ((S, N), the discrete divergence B u, relative to |Bx| |ux| + |By| |uy|). The P2 velocity is
    rebuilt from the vertices (_p2), so, unlike the other residuals, it is not zero on the
    solver's own states, which come from P2 fields and substeps: it has a floor (measured
    in the tests); the prescribed values are the states' own.

    The estimated errors (velocity at the vertices, pressure) solve the steps' Newton
    linearisation J e_k = -sum_j alpha_j M e_(k-j) / dt - r_k, J factorised when the order
    changes and every FLOW_REFACTOR steps, each e_k one correction from e_(k-1) with it (a
    solve per step cost 3x as much for an estimate 3% apart after 30 steps, 2k channel)."""
    system = FlowSystem(problem)
    space, n, nodes = system.space, system.n, problem.mesh.num_nodes
    bx, by = system.divergence[:, :n], system.divergence[:, n:]
    free = np.ones(2 * n, dtype=bool)
    free[system.fixed[system.fixed < 2 * n]] = False
    momentum, continuity = [], []
    states, errors, solve = [_p2(space, velocity[0])], [np.zeros(system.size)], None
    for k, (after, p) in enumerate(zip(velocity[1:], pressure[1:], strict=True)):
        alpha = BDF[min(DEFAULT_ORDER, k + 1)][0]
        u1 = _p2(space, after)
        x = np.concatenate([u1.T.ravel(), p])
        step = system.matrix(alpha[0] / dt, space.local_convection_jacobian(u1))
        # the convection is quadratic: A(x) x takes half its Jacobian, (Stokes + step) / 2
        applied = 0.5 * (system.stokes(alpha[0] / dt) @ x + step @ x)
        known = _history(system, alpha, states, dt)
        values = np.where(free, known - applied[: 2 * n], 0.0)
        scale = np.linalg.norm(known[free]) + np.linalg.norm(applied[: 2 * n][free])
        divergence = bx @ u1[:, 0] + by @ u1[:, 1]
        bound = abs(bx) @ np.abs(u1[:, 0]) + abs(by) @ np.abs(u1[:, 1])  # no cancellation
        if k < DEFAULT_ORDER or k % FLOW_REFACTOR == 0:
            solve = system.factorize(step)
        carried = _history(system, alpha, [e[: 2 * n].reshape(2, n).T for e in errors], dt)
        defect = np.concatenate([carried - values, -divergence]) - step @ errors[-1]
        defect[system.fixed] = 0.0  # r = b - A x above: its continuity rows are +B u
        error = errors[-1] + solve(defect)
        states, errors = [*states, u1][-DEFAULT_ORDER:], [*errors, error][-DEFAULT_ORDER:]
        velocity_error, pressure_error = system.split(error)
        momentum.append(
            (
                values.reshape(2, n).T[:nodes],
                _ratio(values, scale),
                velocity_error[:nodes],
                _ratio(velocity_error[:nodes], np.linalg.norm(after)),
            )
        )
        continuity.append(
            (
                divergence,
                _ratio(divergence, np.linalg.norm(bound)),
                pressure_error,
                _ratio(pressure_error, np.linalg.norm(p)),
            )
        )
    return tuple(  # type: ignore[return-value]
        Residual(*(np.array([row[i] for row in rows]) for i in range(4)))
        for rows in (momentum, continuity)
    )


def _history(system: FlowSystem, alpha: list[float], states: list, dt: float) -> np.ndarray:
    """The known side -sum_j alpha_j M u_(k-j) / dt of a BDF step from P2 velocities (n, 2),
    the newest last."""
    weighted = -sum(a * u for a, u in zip(alpha[1:], states[::-1], strict=False)) / dt
    return (system.mass @ weighted).T.ravel()


def _p2(space, vertex_velocity: np.ndarray) -> np.ndarray:
    """(n, 2) P2 values of a vertex velocity (N, 2): each edge midpoint from the cubic
    through its ends' values and recovered gradients (the mean of the ends plus
    (g_a - g_b) . (x_b - x_a) / 8, exact for cubics along the edge). The mean alone misses
    the h^2 u''/8 a P2 field has there: with backward-Euler steps, the momentum floor on the
    solver's states of a 2k channel was 3.6% with the mean, 1.6% with this."""
    mesh = space.mesh
    gradients = recovered_gradients(mesh, vertex_velocity)  # (N, 2, dim)
    a, b = space.edges[:, 0], space.edges[:, 1]
    along = mesh.points[b] - mesh.points[a]
    bend = np.einsum("ecd,ed->ec", gradients[a] - gradients[b], along) / 8
    return np.concatenate([vertex_velocity, (vertex_velocity[a] + vertex_velocity[b]) / 2 + bend])


def _ratio(values: np.ndarray, scale: float) -> float:
    """||values|| / scale: inf for a nonzero part of a zero field (as the relative error)."""
    norm = float(np.linalg.norm(values))
    return norm / scale if scale > 0 else (0.0 if norm == 0 else math.inf)


def _linear_residual(
    rhs: np.ndarray,
    applied: np.ndarray,
    states: np.ndarray,
    matrix,
    fixed: np.ndarray,
    carry=None,
    near_nullspace: np.ndarray | None = None,
) -> Residual:
    """The Residual of states (S, n) whose rows b (rhs) and A u (applied) are given, with
    the estimated error of each: ESTIMATE_ITERATIONS of AMG-preconditioned CG on
    A_ff e_f = -r_f, plus (C e_before)_f for a step whose known side applied C to the state
    before it (the state before a trajectory is given: error 0), started from the error
    estimated for the state before, so that a step's error carries on instead of being
    cut by each short solve. Prescribed values come with the states: their error is 0."""
    values = np.array(rhs - applied)
    values[:, fixed] = 0.0
    free = np.ones(values.shape[1], dtype=bool)
    free[fixed] = False
    scale = np.linalg.norm(rhs[:, free], axis=1) + np.linalg.norm(applied[:, free], axis=1)
    relative = np.linalg.norm(values, axis=1) / np.maximum(scale, np.finfo(float).tiny)
    errors = np.zeros(values.shape)
    if free.any():
        reduced = sp.csr_matrix(matrix)[free][:, free]
        nullspace = None if near_nullspace is None else near_nullspace[free]
        hierarchy = amg_hierarchy(reduced, nullspace)
        before = np.zeros(matrix.shape[0])
        for k, row in enumerate(values):
            known = -row[free] if carry is None else (carry @ before)[free] - row[free]
            start = before[free] if carry is not None else None
            # tol 0: exactly ESTIMATE_ITERATIONS iterations, never a solve to tolerance
            errors[k, free] = hierarchy.solve(
                known, x0=start, tol=0.0, maxiter=ESTIMATE_ITERATIONS, accel="cg"
            )
            before = errors[k]
    norms = np.linalg.norm(states, axis=1)
    estimate = np.linalg.norm(errors, axis=1) / np.maximum(norms, np.finfo(float).tiny)
    return Residual(values, relative, errors, estimate)
