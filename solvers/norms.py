"""Error norms of P1 fields against exact functions, by simplex quadrature.

Used by convergence-rate tests and by anyone checking a solution against a known one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from math import factorial

import numpy as np
from scipy.special import roots_jacobi

from solvers.fem import barycentric_gradients
from solvers.mesh import Mesh


@cache
def simplex_quadrature(dim: int, points_per_direction: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Collapsed Gauss-Jacobi (Stroud) rule on the reference simplex.

    Returns barycentric coordinates (Q, dim+1) and positive weights (Q,) summing to the
    reference volume 1/dim!; exact for polynomials of degree 2*points_per_direction - 1.
    """
    n = points_per_direction
    # Direction k carries the Duffy Jacobian factor (1-s_k)^(dim-1-k).
    rules = []
    for k in range(dim):
        alpha = dim - 1 - k
        x, w = roots_jacobi(n, alpha, 0)
        rules.append(((1 + x) / 2, w / 2 ** (alpha + 1)))
    grids = np.meshgrid(*[r[0] for r in rules], indexing="ij")
    weights = np.prod(np.meshgrid(*[r[1] for r in rules], indexing="ij"), axis=0).ravel()
    s = [g.ravel() for g in grids]
    # Map the unit cube to the simplex: x_0 = s_0, x_1 = s_1 (1 - s_0), ...
    coords, remaining = [], np.ones_like(s[0])
    for k in range(dim):
        coords.append(s[k] * remaining)
        remaining = remaining * (1 - s[k])
    local = np.column_stack(coords)
    bary = np.column_stack([1 - local.sum(axis=1), local])
    assert np.isclose(weights.sum(), 1 / factorial(dim))
    return bary, weights


def _quadrature_points(mesh: Mesh, bary: np.ndarray) -> np.ndarray:
    """(M, Q, d) physical coordinates of the quadrature points in every cell."""
    return np.einsum("qa,mad->mqd", bary, mesh.points[mesh.cells])


def l2_error(mesh: Mesh, u: np.ndarray, exact: Callable[[np.ndarray], np.ndarray]) -> float:
    """||u_h - u||_L2 for a P1 field u (N,) or (N, c); exact maps (P, d) -> (P,) or (P, c)."""
    bary, weights = simplex_quadrature(mesh.dim)
    x = _quadrature_points(mesh, bary)
    u = np.asarray(u, dtype=np.float64)
    u_h = np.einsum("qa,ma...->mq...", bary, u[mesh.cells])
    u_x = np.asarray(exact(x.reshape(-1, mesh.dim))).reshape(u_h.shape)
    squared = (u_h - u_x) ** 2
    if squared.ndim == 3:
        squared = squared.sum(axis=2)
    jacobian = np.abs(mesh.cell_volumes) * factorial(mesh.dim)
    return float(np.sqrt(np.sum(jacobian * (squared @ weights))))


def h1_seminorm_error(
    mesh: Mesh, u: np.ndarray, exact_gradient: Callable[[np.ndarray], np.ndarray]
) -> float:
    """|u_h - u|_H1 for a scalar P1 field u (N,); exact_gradient maps (P, d) -> (P, d)."""
    bary, weights = simplex_quadrature(mesh.dim)
    x = _quadrature_points(mesh, bary)
    grad_h = np.einsum("mad,ma->md", barycentric_gradients(mesh), u[mesh.cells])
    grad_x = np.asarray(exact_gradient(x.reshape(-1, mesh.dim))).reshape(x.shape)
    squared = ((grad_x - grad_h[:, None, :]) ** 2).sum(axis=2)
    jacobian = np.abs(mesh.cell_volumes) * factorial(mesh.dim)
    return float(np.sqrt(np.sum(jacobian * (squared @ weights))))
