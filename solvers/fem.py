"""Vectorised P1 finite-element assembly on simplices: gradients, stiffness, mass, loads.

Every routine works on all cells at once (no Python loop over cells); local matrices are
(M, k, k) arrays scattered into CSR in one call.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from solvers.errors import ProblemError
from solvers.mesh import Mesh

# A coefficient or field: a number, a per-node (N,) or per-cell (M,) array, or a callable
# of the coordinates (P, d) -> (P,).
Field = float | np.ndarray | Callable[[np.ndarray], np.ndarray]


def barycentric_gradients(mesh: Mesh) -> np.ndarray:
    """(M, d+1, d) gradients of the P1 basis functions on each cell (constant per cell)."""
    points, cells = mesh.points, mesh.cells
    grads = np.empty((len(cells), mesh.dim + 1, mesh.dim))
    if mesh.dim == 2:
        # Closed form on contiguous coordinate columns (fewer, cheaper temporaries):
        # grad lambda_a = (y_b - y_c, x_c - x_b) / det for (a, b, c) cyclic.
        x, y = points[:, 0][cells], points[:, 1][cells]
        det = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
        for a, b, c in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
            grads[:, a, 0] = (y[:, b] - y[:, c]) / det
            grads[:, a, 1] = (x[:, c] - x[:, b]) / det
        return grads
    # Columns of the inverse edge matrix are e2 x e3, e3 x e1, e1 x e2 over det: cheaper than
    # a batched np.linalg.inv, which calls LAPACK once per cell.
    e1, e2, e3 = (points[cells[:, k]] - points[cells[:, 0]] for k in (1, 2, 3))
    c23, c31, c12 = np.cross(e2, e3), np.cross(e3, e1), np.cross(e1, e2)
    det = np.einsum("mi,mi->m", e1, c23)[:, None]
    grads[:, 1], grads[:, 2], grads[:, 3] = c23 / det, c31 / det, c12 / det
    grads[:, 0] = -(grads[:, 1] + grads[:, 2] + grads[:, 3])
    return grads


def recovered_gradients(mesh: Mesh, values: np.ndarray) -> np.ndarray:
    """(N, C, d) gradients at the nodes of P1 fields values (N, C): each cell's constant
    gradient averaged over the cells around a node, weighted by their volumes."""
    per_cell = np.einsum("mac,mad->mcd", values[mesh.cells], barycentric_gradients(mesh))
    m, k = mesh.cells.shape
    cells = np.repeat(np.arange(m), k)
    around = sp.csr_array(
        (np.repeat(mesh.cell_volumes, k), (mesh.cells.ravel(), cells)), shape=(mesh.num_nodes, m)
    )
    total = around @ per_cell.reshape(m, -1)
    return (total / around.sum(axis=1)[:, None]).reshape(mesh.num_nodes, *per_cell.shape[1:])


def scatter(elements: np.ndarray, local: np.ndarray, n: int) -> sp.csr_array:
    """Sum local (M, k, k) matrices on elements (M, k) into an (n, n) CSR matrix."""
    k = elements.shape[1]
    # int32 indices when they fit: scipy's COO->CSR conversion is then about 3x faster.
    index_type = np.int32 if n < np.iinfo(np.int32).max else np.int64
    elements = elements.astype(index_type, copy=False)
    rows = np.repeat(elements, k, axis=1).ravel()
    cols = np.tile(elements, (1, k)).ravel()
    return sp.coo_array((local.ravel(), (rows, cols)), shape=(n, n)).tocsr()


def simplex_mass(elements: np.ndarray, measures: np.ndarray, n: int) -> sp.csr_array:
    """Consistent P1 mass matrix of simplices (cells or facets) with the given measures."""
    k = elements.shape[1]
    pattern = (np.ones((k, k)) + np.eye(k)) / (k * (k + 1))
    return scatter(elements, measures[:, None, None] * pattern, n)


def stiffness(mesh: Mesh, kappa: Field = 1.0, grads: np.ndarray | None = None) -> sp.csr_array:
    """(N, N) matrix of the form (kappa grad u, grad v); kappa is constant per cell."""
    grads = barycentric_gradients(mesh) if grads is None else grads
    weight = cell_values(mesh, kappa, "kappa") * mesh.cell_volumes
    local = np.matmul(grads, grads.transpose(0, 2, 1))  # batched matmul: faster than einsum
    local *= weight[:, None, None]
    return scatter(mesh.cells, local, mesh.num_nodes)


def mass(mesh: Mesh) -> sp.csr_array:
    """(N, N) consistent mass matrix (u, v)."""
    return simplex_mass(mesh.cells, mesh.cell_volumes, mesh.num_nodes)


def load_vector(mesh: Mesh, source: Field, name: str = "source") -> np.ndarray:
    """(N,) vector (f, v): exact for per-cell constants and for P1 (per-node) fields."""
    if np.isscalar(source) or is_cell_array(mesh, source):  # constant on each cell
        share = cell_values(mesh, source, name) * mesh.cell_volumes / (mesh.dim + 1)
        return np.bincount(mesh.cells.ravel(), np.repeat(share, mesh.dim + 1), mesh.num_nodes)
    return mass(mesh) @ node_values(mesh, source, name)


def facet_measures(points: np.ndarray, facets: np.ndarray) -> np.ndarray:
    """(F,) lengths of edges (2D meshes) or areas of triangles (3D meshes)."""
    vectors = points[facets[:, 1:]] - points[facets[:, :1]]
    if facets.shape[1] == 2:
        return np.linalg.norm(vectors[:, 0], axis=1)
    return 0.5 * np.linalg.norm(np.cross(vectors[:, 0], vectors[:, 1]), axis=1)


def facet_mass(mesh: Mesh, facets: np.ndarray) -> sp.csr_array:
    """(N, N) boundary mass matrix over the given facets, (u, v) on that part."""
    return simplex_mass(facets, facet_measures(mesh.points, facets), mesh.num_nodes)


# ---- coefficients ---------------------------------------------------------------------------
def is_cell_array(mesh: Mesh, value) -> bool:
    """A per-cell array (an (M,) array when M != N; per-node wins if the two sizes agree)."""
    return (
        isinstance(value, np.ndarray | list | tuple)
        and np.shape(value)[:1] == (mesh.num_cells,)
        and mesh.num_cells != mesh.num_nodes
    )


def node_values(mesh: Mesh, value: Field, name: str, t: float | None = None) -> np.ndarray:
    """(N,) values at the nodes of a scalar, (N,) array or callable f(x) (f(x, t) if t given)."""
    if callable(value):
        out = value(mesh.points) if t is None else value(mesh.points, t)
        return checked_array(np.broadcast_to(out, (mesh.num_nodes,)), (mesh.num_nodes,), name)
    if np.isscalar(value):
        return checked_array(np.full(mesh.num_nodes, value), (mesh.num_nodes,), name)
    return checked_array(value, (mesh.num_nodes,), name)


def cell_values(mesh: Mesh, value: Field, name: str) -> np.ndarray:
    """(M,) per-cell values: scalars broadcast, per-node arrays averaged over each cell,
    callables evaluated at cell centroids."""
    if callable(value):
        centroids = mesh.points[mesh.cells].mean(axis=1)
        out = np.broadcast_to(value(centroids), (mesh.num_cells,))
        return checked_array(out, (mesh.num_cells,), name)
    if np.isscalar(value):
        return checked_array(np.full(mesh.num_cells, value), (mesh.num_cells,), name)
    if is_cell_array(mesh, value):
        return checked_array(value, (mesh.num_cells,), name)
    return checked_array(value, (mesh.num_nodes,), name)[mesh.cells].mean(axis=1)


def checked_array(value, shape: tuple[int, ...], name: str) -> np.ndarray:
    """value as a float array of the given shape with finite entries, else ProblemError."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProblemError(f"{name} is {type(value).__name__}; expected numbers.") from None
    if array.shape != shape:
        raise ProblemError(f"{name} has shape {array.shape}; expected {shape}.")
    bad = ~np.isfinite(array)
    if bad.any():
        raise ProblemError(
            f"{name} has {bad.sum()} NaN or infinite value(s); expected finite numbers."
        )
    return array


def point_values(mesh: Mesh, values: np.ndarray, points: np.ndarray) -> np.ndarray:
    """P1 interpolation of nodal values (N, ...) at points (P, d) inside the mesh (points on
    the boundary included); a point outside every cell raises ProblemError.

    Each point is located by its barycentric coordinates in every cell: O(P M), meant for
    a few probe points.
    """
    grads = barycentric_gradients(mesh)
    origin = mesh.points[mesh.cells[:, 0]]
    out = []
    for point in np.atleast_2d(points):
        lam = np.einsum("mkd,md->mk", grads[:, 1:], point - origin)
        lam = np.concatenate([1 - lam.sum(axis=1, keepdims=True), lam], axis=1)
        cell = int(np.argmax(lam.min(axis=1)))
        if lam[cell].min() < -1e-9:
            raise ProblemError(f"point {point.tolist()} is outside the mesh.")
        out.append(np.tensordot(lam[cell], values[mesh.cells[cell]], axes=1))
    return np.array(out)
