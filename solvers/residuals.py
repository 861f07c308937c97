"""Residuals of the discrete equations, evaluated on any field (a surrogate's prediction):
how far it is from satisfying what the solver solves, without a solve (assembly and a
product). Each is zero, up to the solver's tolerance, on the solver's own solution.

A Residual holds per-node values (the free rows of b - A u, in units of the load; zero
at prescribed nodes) and a dimensionless figure per state: ||b - A u|| / (||b|| + ||A u||)
over the free rows, 0 for an exact solution and about 1 for one unrelated to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvers.boundary import Spec, dirichlet_dofs
from solvers.diffusion import diffusion_load, diffusion_matrix
from solvers.elasticity import elasticity_system
from solvers.fem import Field, mass
from solvers.mesh import Mesh


@dataclass(frozen=True)
class Residual:
    """values: (S, N) or (S, N, d) per node; relative: (S,) dimensionless."""

    values: np.ndarray
    relative: np.ndarray


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
    applied = np.atleast_2d(states) @ matrix.T
    return _residual(np.broadcast_to(load, applied.shape), applied, fixed)


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
    known = before @ (mass_matrix - (1 - theta) * dt * stiffness).T + load
    return _residual(known, after @ (mass_matrix + theta * dt * stiffness).T, fixed)


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
    applied = states @ matrix.T
    residual = _residual(np.broadcast_to(rhs, applied.shape), applied, fixed)
    values = residual.values.reshape(len(states), mesh.num_nodes, mesh.dim)
    return Residual(values, residual.relative)


def _residual(rhs: np.ndarray, applied: np.ndarray, fixed: np.ndarray) -> Residual:
    values = np.array(rhs - applied)
    values[:, fixed] = 0.0
    free = np.ones(values.shape[1], dtype=bool)
    free[fixed] = False
    scale = np.linalg.norm(rhs[:, free], axis=1) + np.linalg.norm(applied[:, free], axis=1)
    relative = np.linalg.norm(values, axis=1) / np.maximum(scale, np.finfo(float).tiny)
    return Residual(values, relative)
