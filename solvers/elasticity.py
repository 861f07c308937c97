"""Linear elasticity with P1 displacements: plane strain, plane stress (2D) and 3D."""

from __future__ import annotations

import numpy as np

from solvers.boundary import Spec, boundary_load, dirichlet_dofs, values_at
from solvers.errors import ProblemError
from solvers.fem import Field, barycentric_gradients, cell_values, mass, scatter
from solvers.linalg import ConstrainedSystem, SolverOptions
from solvers.mesh import Mesh

PLANES = ("strain", "stress")


def elasticity(
    mesh: Mesh,
    E: Field = 1.0,
    nu: Field = 0.3,
    body_force: Spec = None,
    dirichlet: Spec = None,
    traction: Spec = None,
    plane: str = "strain",
    solver: SolverOptions = SolverOptions(),
) -> np.ndarray:
    """Solve -div sigma(u) = body_force; returns the displacement (N, d).

    E, nu: Young's modulus and Poisson ratio, number / per-cell / per-node array / callable.
    dirichlet: prescribed displacement per part, e.g. {"left": 0.0} clamps, {"bottom":
        (None, 0.0)} is a roller; traction: sigma n = g per part, e.g. {"right": (0, -1)}.
    plane: "strain" or "stress" for 2D meshes (ignored in 3D).
    """
    d = mesh.dim
    matrix, rhs, dofs, values = elasticity_system(
        mesh, E, nu, body_force, dirichlet, traction, plane
    )
    _require_no_rigid_motion(mesh, dofs)
    system = ConstrainedSystem(matrix, dofs, solver, d, rigid_body_modes(mesh.points))
    return system.solve(rhs, values).reshape(-1, d)


def elasticity_system(mesh: Mesh, E, nu, body_force, dirichlet, traction, plane: str):
    """(matrix, rhs, prescribed dofs, their values) of the discrete problem, dofs
    interleaved per node (x, y[, z])."""
    d = mesh.dim
    lam, mu = lame_parameters(mesh, E, nu, plane)
    matrix = scatter(_dof_cells(mesh), _local_stiffness(mesh, lam, mu), mesh.num_nodes * d)
    rhs = boundary_load(mesh, traction, components=d, name="traction")
    if body_force is not None:
        force, _ = values_at(mesh, np.arange(mesh.num_nodes), body_force, d, "body_force")
        rhs = rhs + mass(mesh) @ force
    dofs, values = dirichlet_dofs(mesh, dirichlet, components=d)
    return matrix, rhs.ravel(), dofs, values


def stress(mesh: Mesh, u: np.ndarray, E: Field, nu: Field, plane: str = "strain") -> np.ndarray:
    """(M, 3, 3) Cauchy stress per cell (constant for P1); in 2D the zz entry follows from
    plane strain (lambda tr eps) or plane stress (0)."""
    lam, mu = lame_parameters(mesh, E, nu, plane)
    grad_u = np.einsum("mai,maj->mij", u[mesh.cells], barycentric_gradients(mesh))
    strain = 0.5 * (grad_u + grad_u.transpose(0, 2, 1))
    trace = np.trace(strain, axis1=1, axis2=2)
    d = mesh.dim
    sigma = np.zeros((mesh.num_cells, 3, 3))
    sigma[:, :d, :d] = 2 * mu[:, None, None] * strain + (lam * trace)[:, None, None] * np.eye(d)
    if d == 2 and plane == "strain":
        nu_cells = cell_values(mesh, nu, "nu")
        sigma[:, 2, 2] = nu_cells * (sigma[:, 0, 0] + sigma[:, 1, 1])  # = lambda tr(eps)
    return sigma


def von_mises(mesh: Mesh, u: np.ndarray, E: Field, nu: Field, plane: str = "strain") -> np.ndarray:
    """(N,) von Mises stress at the nodes: per-cell values averaged with volume weights."""
    s = stress(mesh, u, E, nu, plane)
    per_cell = np.sqrt(
        0.5
        * (
            (s[:, 0, 0] - s[:, 1, 1]) ** 2
            + (s[:, 1, 1] - s[:, 2, 2]) ** 2
            + (s[:, 2, 2] - s[:, 0, 0]) ** 2
        )
        + 3 * (s[:, 0, 1] ** 2 + s[:, 1, 2] ** 2 + s[:, 0, 2] ** 2)
    )
    weights = np.repeat(mesh.cell_volumes, mesh.dim + 1)
    cells = mesh.cells.ravel()
    total = np.bincount(cells, weights * np.repeat(per_cell, mesh.dim + 1), mesh.num_nodes)
    return total / np.bincount(cells, weights, mesh.num_nodes)


def lame_parameters(mesh: Mesh, E: Field, nu: Field, plane: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell (lambda, mu); plane stress uses the reduced lambda* = 2 lambda mu/(lambda+2 mu)."""
    if plane not in PLANES:
        raise ProblemError(f"plane is '{plane}'; expected one of {PLANES}.")
    E, nu = cell_values(mesh, E, "E"), cell_values(mesh, nu, "nu")
    if (E <= 0).any():
        raise ProblemError(f"E has non-positive value {E[E <= 0][0]}; expected E > 0.")
    if ((nu <= -1) | (nu >= 0.5)).any():
        bad = nu[(nu <= -1) | (nu >= 0.5)][0]
        raise ProblemError(f"nu is {bad}; expected -1 < nu < 0.5 (compressible material).")
    mu = E / (2 * (1 + nu))
    lam = E * nu / ((1 + nu) * (1 - 2 * nu))
    if mesh.dim == 2 and plane == "stress":
        lam = 2 * lam * mu / (lam + 2 * mu)
    return lam, mu


def rigid_body_modes(points: np.ndarray) -> np.ndarray:
    """(N*d, 3 or 6) translations and rotations, the near-nullspace AMG needs for elasticity."""
    n, d = points.shape
    x = points - points.mean(axis=0)
    modes = []
    for i in range(d):
        translation = np.zeros((n, d))
        translation[:, i] = 1
        modes.append(translation)
    for i, j in [(0, 1)] if d == 2 else [(0, 1), (1, 2), (0, 2)]:
        rotation = np.zeros((n, d))
        rotation[:, i], rotation[:, j] = -x[:, j], x[:, i]
        modes.append(rotation)
    return np.column_stack([m.ravel() for m in modes])


def _local_stiffness(mesh: Mesh, lam: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """(M, k*d, k*d) local matrices, dof (a, i) at a*d + i."""
    g = barycentric_gradients(mesh)
    m, k, d = g.shape
    dot = np.einsum("mak,mbk->mab", g, g)
    local = lam[:, None, None, None, None] * np.einsum("mai,mbj->maibj", g, g)
    local += mu[:, None, None, None, None] * np.einsum("maj,mbi->maibj", g, g)
    local += (mu[:, None, None] * dot)[:, :, None, :, None] * np.eye(d)[None, None, :, None, :]
    local *= mesh.cell_volumes[:, None, None, None, None]
    return local.reshape(m, k * d, k * d)


def _dof_cells(mesh: Mesh) -> np.ndarray:
    d = mesh.dim
    return (mesh.cells[:, :, None] * d + np.arange(d)).reshape(mesh.num_cells, -1)


def _require_no_rigid_motion(mesh: Mesh, dofs: np.ndarray) -> None:
    constrained_nodes = np.unique(dofs // mesh.dim)
    if len(constrained_nodes) < mesh.dim or len(dofs) < mesh.dim * (mesh.dim + 1) // 2:
        raise ProblemError(
            "the displacement is not constrained enough to rule out rigid motion; expected "
            "dirichlet= on at least one boundary part (for example {'left': 0.0} to clamp it)."
        )
