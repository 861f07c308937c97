"""Transient heat equation du/dt - div(kappa grad u) = f with the theta-scheme."""

from __future__ import annotations

import numpy as np

from solvers.boundary import Spec, dirichlet_dofs
from solvers.diffusion import diffusion_load, diffusion_matrix, require_unique_solution
from solvers.errors import ProblemError
from solvers.fem import Field, mass, node_values
from solvers.linalg import ConstrainedSystem, SolverOptions
from solvers.mesh import Mesh


def heat(
    mesh: Mesh,
    u0: Field = 0.0,
    kappa: Field = 1.0,
    source: Field = 0.0,
    dirichlet: Spec = None,
    neumann: Spec = None,
    robin: Spec = None,
    dt: float = 0.01,
    steps: int = 10,
    theta: float = 1.0,
    t0: float = 0.0,
    solver: SolverOptions = SolverOptions(),
) -> np.ndarray:
    """Integrate the heat equation; returns the trajectory (steps + 1, N), u0 first.

    theta = 1 is backward Euler (order 1), theta = 0.5 Crank-Nicolson (order 2). Sources,
    Dirichlet, Neumann and Robin data may depend on time: callables are called as f(x, t).
    u0 is a number, an (N,) array or a callable of x; its Dirichlet nodes take the boundary
    values at t0. The system matrix is factorised (or its AMG hierarchy built) once.
    """
    _check_stepping(dt, steps, theta)
    u_start = node_values(mesh, u0, "u0")
    dofs, values = dirichlet_dofs(mesh, dirichlet, t=t0)
    require_unique_solution(dofs, robin)
    stiffness, mass_matrix = diffusion_matrix(mesh, kappa, robin), mass(mesh)
    system = ConstrainedSystem(mass_matrix + theta * dt * stiffness, dofs, solver, mesh.dim)
    explicit = mass_matrix - (1 - theta) * dt * stiffness

    time_dependent = any(_has_callable(v) for v in (source, neumann, robin))
    load_now = diffusion_load(mesh, source, neumann, robin, t0)
    trajectory = np.empty((steps + 1, mesh.num_nodes))
    trajectory[0] = u_start
    trajectory[0, dofs] = values
    for n in range(steps):
        t_next = t0 + (n + 1) * dt
        load_next = (
            diffusion_load(mesh, source, neumann, robin, t_next) if time_dependent else load_now
        )
        rhs = explicit @ trajectory[n] + dt * (theta * load_next + (1 - theta) * load_now)
        if _has_callable(dirichlet):
            _, values = dirichlet_dofs(mesh, dirichlet, t=t_next)
        trajectory[n + 1] = system.solve(rhs, values)
        load_now = load_next
    return trajectory


def _has_callable(spec) -> bool:
    if isinstance(spec, dict):
        return any(_has_callable(v) for v in spec.values())
    if isinstance(spec, tuple | list):
        return any(callable(v) for v in spec)
    return callable(spec)


def _check_stepping(dt: float, steps: int, theta: float) -> None:
    if not (np.isfinite(dt) and dt > 0):
        raise ProblemError(f"dt is {dt}; expected a positive time step.")
    if int(steps) != steps or steps < 1:
        raise ProblemError(f"steps is {steps}; expected a positive whole number.")
    if not 0.5 <= theta <= 1:
        raise ProblemError(
            f"theta is {theta}; expected 0.5 (Crank-Nicolson) to 1 (backward Euler), "
            "the unconditionally stable range."
        )
