"""Taylor-Hood P2-P1 elements on triangles: the inf-sup-stable pair for incompressible flow.

Velocity lives on P2 (one unknown per vertex and per edge midpoint, vertices first so the
first N values are the vertex values), pressure on P1. Every routine works on all cells at
once: basis values and gradients are tabulated at quadrature points and contracted with
einsum, and local matrices are scattered into CSR in one call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from solvers.errors import MeshError
from solvers.fem import barycentric_gradients, scatter
from solvers.mesh import Mesh
from solvers.norms import simplex_quadrature

# Local P2 numbering: vertices 0, 1, 2, then the midpoints of edges (0,1), (1,2), (2,0).
LOCAL_EDGES = ((0, 1), (1, 2), (2, 0))
# Maps points (P, 2) near a curved boundary part to the nearest points on the exact curve.
Projection = Callable[[np.ndarray], np.ndarray]
# Products of two P2 functions and a gradient (degree 5) are exact with 3 points per direction.
QUADRATURE = simplex_quadrature(2, 3)


def _basis(lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P2 values (Q, 6) and derivatives with respect to the barycentric coordinates
    (Q, 6, 3) at barycentric points lam (Q, 3)."""
    q = len(lam)
    values = np.empty((q, 6))
    derivs = np.zeros((q, 6, 3))
    for a in range(3):
        values[:, a] = lam[:, a] * (2 * lam[:, a] - 1)
        derivs[:, a, a] = 4 * lam[:, a] - 1
    for k, (a, b) in enumerate(LOCAL_EDGES):
        values[:, 3 + k] = 4 * lam[:, a] * lam[:, b]
        derivs[:, 3 + k, a] = 4 * lam[:, b]
        derivs[:, 3 + k, b] = 4 * lam[:, a]
    return values, derivs


def circle(center: tuple[float, float], radius: float) -> Projection:
    """Projection onto the circle of the given centre and radius."""
    c = np.asarray(center, dtype=np.float64)

    def project(x: np.ndarray) -> np.ndarray:
        d = x - c
        return c + radius * d / np.linalg.norm(d, axis=1, keepdims=True)

    return project


def circular_parts(mesh: Mesh, tol: float = 1e-8) -> dict[str, Projection]:
    """The boundary parts whose vertices (at least 8) lie on one circle, to tol times its
    radius, with projections onto their circles: meshes read from files, or generated with
    round holes, get their circular walls curved without naming them."""
    out = {}
    for part in mesh.boundary_parts if mesh.dim == 2 else ():
        points = mesh.points[mesh.part_nodes(part)]
        if len(points) < 8:
            continue
        # Algebraic (Kasa) fit: x^2 + y^2 + a x + b y + c = 0, least squares.
        system = np.column_stack([points, np.ones(len(points))])
        (a, b, c), *_ = np.linalg.lstsq(system, -(points**2).sum(axis=1), rcond=None)
        center = np.array([-a / 2, -b / 2])
        radius = np.sqrt(max(center @ center - c, 0.0))
        deviation = np.abs(np.linalg.norm(points - center, axis=1) - radius).max()
        if radius > 0 and deviation <= tol * radius:
            out[part] = circle(center, radius)
    return out


def require_triangles(mesh: Mesh) -> None:
    if mesh.dim != 2:
        raise MeshError(f"Taylor-Hood elements need a 2D triangle mesh; got a {mesh.dim}D mesh.")


@dataclass(frozen=True)
class TaylorHood:
    """The P2 velocity / P1 pressure spaces on a triangle mesh.

    cell_dofs: (M, 6) P2 unknowns of each cell (3 vertices, then 3 edge midpoints).
    dof_points: (N + E, 2) coordinates of the P2 unknowns.
    curved: boundary parts whose edges are arcs of a curve, by its projection. Their
    midpoint unknowns sit on the curve and the cells along them are mapped by the quadratic
    (isoparametric) map through their six nodes; with straight edges the velocity's L2
    error falls at order h^2 instead of h^3 (measured on Couette flow in the tests).
    """

    mesh: Mesh
    curved: Mapping[str, Projection] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require_triangles(self.mesh)

    @cached_property
    def edges(self) -> np.ndarray:
        return self.mesh.edges

    @cached_property
    def num_dofs(self) -> int:
        return self.mesh.num_nodes + len(self.edges)

    @cached_property
    def cell_dofs(self) -> np.ndarray:
        cells = self.mesh.cells
        local = np.stack([cells[:, [a, b]] for a, b in LOCAL_EDGES], axis=1)  # (M, 3, 2)
        return np.concatenate([cells, self.mesh.num_nodes + self.edge_index(local)], axis=1)

    @cached_property
    def dof_points(self) -> np.ndarray:
        points = self.mesh.points
        points = np.concatenate([points, points[self.edges].mean(axis=1)])
        for part, project in self.curved.items():
            midpoints = self._curved_midpoints[part]
            points[midpoints] = project(points[midpoints])
        return points

    @cached_property
    def _curved_midpoints(self) -> dict[str, np.ndarray]:
        """P2 unknowns at the midpoints of each curved part's edges."""
        parts, n = self.mesh.boundary_parts, self.mesh.num_nodes
        return {part: n + self.edge_index(parts[part]) for part in self.curved}

    def edge_index(self, pairs: np.ndarray) -> np.ndarray:
        """Edge numbers of vertex pairs (..., 2), in either order."""
        n = self.mesh.num_nodes
        keys = self.edges[:, 0] * n + self.edges[:, 1]  # sorted: Mesh.edges comes from unique
        pairs = np.sort(pairs, axis=-1)
        return np.searchsorted(keys, pairs[..., 0] * n + pairs[..., 1])

    def facet_dofs(self, facets: np.ndarray) -> np.ndarray:
        """Sorted P2 unknowns (vertices and midpoints) on boundary edges (F, 2)."""
        midpoints = self.mesh.num_nodes + self.edge_index(facets)
        return np.unique(np.concatenate([facets.ravel(), midpoints]))

    # ---- tabulation ---------------------------------------------------------------------
    @cached_property
    def _tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """P2 values (Q, 6), P2 gradients (M, Q, 6, 2), P1 values (Q, 3), weights (M, Q)."""
        lam, weights = QUADRATURE
        values, derivs = _basis(lam)
        grads = np.einsum("qia,mad->mqid", derivs, barycentric_gradients(self.mesh))
        area_weights = 2 * self.mesh.cell_volumes[:, None] * weights[None, :]
        curved = self._curved_cells
        if len(curved):
            grads[curved], determinant = self._isoparametric(curved, derivs)
            area_weights[curved] = determinant * weights[None, :]
        return values, grads, lam, area_weights

    @cached_property
    def _curved_cells(self) -> np.ndarray:
        """Cells with an edge on a curved part."""
        if not self.curved:
            return np.zeros(0, dtype=np.int64)
        midpoints = np.concatenate(list(self._curved_midpoints.values()))
        return np.flatnonzero(np.isin(self.cell_dofs[:, 3:], midpoints).any(axis=1))

    def _isoparametric(self, cells: np.ndarray, derivs: np.ndarray):
        """P2 gradients (C, Q, 6, 2) and Jacobian determinants (C, Q) of the given cells
        under the quadratic map through their six nodes."""
        # Reference coordinates (s, t) with barycentric (1 - s - t, s, t).
        reference = derivs[..., 1:] - derivs[..., :1]  # (Q, 6, 2)
        nodes = self.dof_points[self.cell_dofs[cells]]  # (C, 6, 2)
        jacobian = np.einsum("cid,qir->cqdr", nodes, reference)  # dx_d / ds_r
        a, b = jacobian[..., 0, 0], jacobian[..., 0, 1]
        c, d = jacobian[..., 1, 0], jacobian[..., 1, 1]
        determinant = a * d - b * c  # Mesh orients its cells positively
        folded = int((determinant <= 0).any(axis=1).sum())
        if folded:
            raise MeshError(
                f"curving the boundary parts {sorted(self.curved)} folds {folded} cells; "
                "expected cells small against the curvature there."
            )
        inverse = np.stack([np.stack([d, -b], -1), np.stack([-c, a], -1)], -2)  # ds_r / dx_d
        inverse /= determinant[..., None, None]
        return np.einsum("qir,cqrd->cqid", reference, inverse), determinant

    # ---- matrices -----------------------------------------------------------------------
    def mass(self) -> sp.csr_array:
        """(n, n) scalar P2 mass matrix (u, v)."""
        values, _, _, w = self._tables
        local = np.einsum("mq,qi,qj->mij", w, values, values)
        return scatter(self.cell_dofs, local, self.num_dofs)

    def stiffness(self) -> sp.csr_array:
        """(n, n) scalar P2 stiffness matrix (grad u, grad v)."""
        _, grads, _, w = self._tables
        local = np.einsum("mq,mqid,mqjd->mij", w, grads, grads)
        return scatter(self.cell_dofs, local, self.num_dofs)

    def divergence(self) -> tuple[sp.csr_array, sp.csr_array]:
        """(N, n) matrices Bx, By with (q, div u) = Bx @ ux + By @ uy for P1 q."""
        _, grads, p1, w = self._tables
        m = self.mesh.num_cells
        rows = np.repeat(self.mesh.cells, 6, axis=1).ravel()
        cols = np.tile(self.cell_dofs, (1, 3)).ravel()
        shape = (self.mesh.num_nodes, self.num_dofs)
        out = []
        for d in range(2):
            local = np.einsum("mq,qk,mqj->mkj", w, p1, grads[..., d]).reshape(m, -1)
            out.append(sp.coo_array((local.ravel(), (rows, cols)), shape=shape).tocsr())
        return out[0], out[1]

    def grad_div(self) -> sp.csr_array:
        """(2n, 2n) matrix of (div u, div v), unknowns ordered [x components, y components]."""
        _, grads, _, w = self._tables
        local = np.einsum("mq,mqic,mqjd->mcidj", w, grads, grads).reshape(len(w), 12, 12)
        return scatter(self.vector_cell_dofs, local, 2 * self.num_dofs)

    def convection(self, w: np.ndarray) -> sp.csr_array:
        """(n, n) scalar matrix of ((w . grad) u + (div w) u / 2, v) for a P2 velocity w
        (n, 2), applied to each velocity component.

        The second term (Temam's skew-symmetric form) vanishes for divergence-free w and
        makes the discrete convection energy-neutral when w is only weakly divergence-free.
        """
        return scatter(self.cell_dofs, self._transport(w), self.num_dofs)

    def convection_jacobian(self, w: np.ndarray) -> sp.csr_array:
        """(2n, 2n) Jacobian at w of the convection N(u) = convection(u) u, unknowns ordered
        [x components, y components]: the matrix of ((w . grad) du + (div w) du / 2
        + (du . grad) w + (div du) w / 2, v). Since N is quadratic, N(w) = J(w) w / 2."""
        local = self.local_convection_jacobian(w)
        return scatter(self.vector_cell_dofs, local, 2 * self.num_dofs)

    @cached_property
    def vector_cell_dofs(self) -> np.ndarray:
        """(M, 12) unknowns of each cell in [x components, y components] numbering."""
        return np.concatenate([self.cell_dofs, self.num_dofs + self.cell_dofs], axis=1)

    def local_convection_jacobian(self, w: np.ndarray) -> np.ndarray:
        """(M, 12, 12) cell matrices of convection_jacobian(w) on vector_cell_dofs."""
        return self.linearised_convection(w)[0]

    def linearised_convection(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (M, 12, 12) Jacobian cell matrices at w and N(w) (n, 2), sharing the work
        (batched matmuls rather than einsum: this runs at every time step)."""
        values, grads, _, weights = self._tables
        local_w = w[self.cell_dofs]  # (M, 6, 2)
        w_q = np.matmul(values, local_w)  # (M, Q, 2)
        grad_w = np.matmul(local_w.transpose(0, 2, 1)[:, None], grads)  # (M, Q, c, d)
        transport = self._transport_local(w_q, grad_w)
        # du = phi_j e_d, tested with phi_i e_c: phi_j d_d w_c + (d_d phi_j) w_c / 2
        kernel = values[None, :, None, None, :] * grad_w[..., None]
        kernel += 0.5 * grads.transpose(0, 1, 3, 2)[:, :, None] * w_q[:, :, :, None, None]
        kernel *= weights[:, :, None, None, None]
        m, q = weights.shape
        blocks = np.matmul(values.T[None], kernel.reshape(m, q, 24)).reshape(m, 6, 2, 2, 6)
        local = blocks.transpose(0, 2, 1, 3, 4).reshape(m, 12, 12)
        local[:, :6, :6] += transport
        local[:, 6:, 6:] += transport
        convected = np.matmul(transport, local_w)  # (M, 6, 2)
        flat = self.cell_dofs.ravel()
        vector = np.stack(
            [np.bincount(flat, convected[..., c].ravel(), self.num_dofs) for c in range(2)], axis=1
        )
        return local, vector

    def _transport(self, w: np.ndarray) -> np.ndarray:
        """(M, 6, 6) local matrices of convection(w)."""
        values, grads, _, _ = self._tables
        local_w = w[self.cell_dofs]
        grad_w = np.matmul(local_w.transpose(0, 2, 1)[:, None], grads)
        return self._transport_local(np.matmul(values, local_w), grad_w)

    def _transport_local(self, w_q: np.ndarray, grad_w: np.ndarray) -> np.ndarray:
        values, grads, _, weights = self._tables
        divergence = grad_w[..., 0, 0] + grad_w[..., 1, 1]
        transport = np.matmul(grads, w_q[..., None])[..., 0]  # w . grad phi_j, (M, Q, 6)
        transport += 0.5 * divergence[..., None] * values[None]
        return np.matmul(values.T[None], weights[..., None] * transport)

    # ---- evaluation ---------------------------------------------------------------------
    def cell_speeds(self, u: np.ndarray) -> np.ndarray:
        """(M,) largest speed |u| over each cell's P2 unknowns."""
        return np.sqrt((u[self.cell_dofs] ** 2).sum(axis=2)).max(axis=1)

    def l2_error(self, u: np.ndarray, exact) -> float:
        """||u_h - u||_L2 of a P2 field u (n,) or (n, c) against exact(x (P, 2))."""
        values, _, _, weights = self._tables
        u_h = np.einsum("qj,mj...->mq...", values, np.asarray(u)[self.cell_dofs])
        x = np.einsum("qj,mjd->mqd", values, self.dof_points[self.cell_dofs])
        u_x = np.asarray(exact(x.reshape(-1, 2))).reshape(u_h.shape)
        squared = ((u_h - u_x) ** 2).reshape(*u_h.shape[:2], -1).sum(axis=2)
        return float(np.sqrt((weights * squared).sum()))
