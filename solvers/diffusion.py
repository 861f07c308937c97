"""Steady diffusion -div(kappa grad u) = f with Dirichlet, Neumann and Robin parts."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from solvers.boundary import Spec, boundary_load, dirichlet_dofs, robin_load, robin_matrix
from solvers.errors import ProblemError
from solvers.fem import Field, load_vector, stiffness
from solvers.linalg import ConstrainedSystem, SolverOptions
from solvers.mesh import Mesh


def poisson(
    mesh: Mesh,
    kappa: Field = 1.0,
    source: Field = 0.0,
    dirichlet: Spec = None,
    neumann: Spec = None,
    robin: Spec = None,
    solver: SolverOptions = SolverOptions(),
) -> np.ndarray:
    """Solve -div(kappa grad u) = source; returns u at the nodes, shape (N,).

    kappa, source: number, per-node (N,) or per-cell (M,) array, or callable of x (P, d).
    dirichlet: u = g; neumann: kappa du/dn = g (outward normal); robin: (alpha, u_ext) with
    kappa du/dn = alpha (u_ext - u). Each is one value for the whole boundary or a dict
    from boundary-part name to a value (see solvers.boundary). Dirichlet wins where parts
    overlap; boundary without a condition is insulated (zero flux).
    """
    dofs, values = dirichlet_dofs(mesh, dirichlet)
    require_unique_solution(dofs, robin)
    system = ConstrainedSystem(diffusion_matrix(mesh, kappa, robin), dofs, solver, mesh.dim)
    return system.solve(diffusion_load(mesh, source, neumann, robin), values)


def diffusion_matrix(mesh: Mesh, kappa: Field, robin: Spec) -> sp.csr_array:
    """(N, N) stiffness (kappa grad u, grad v) plus the Robin boundary term (alpha u, v)."""
    return stiffness(mesh, kappa) + robin_matrix(mesh, robin)


def diffusion_load(
    mesh: Mesh, source: Field, neumann: Spec, robin: Spec, t: float | None = None
) -> np.ndarray:
    """(N,) load from the source, Neumann fluxes and Robin data; callables get (x, t) if t."""
    if callable(source) and t is not None:
        source_load = load_vector(mesh, lambda x: source(x, t))
    else:
        source_load = load_vector(mesh, source)
    return source_load + boundary_load(mesh, neumann, t=t) + robin_load(mesh, robin, t)


def require_unique_solution(dirichlet_dofs: np.ndarray, robin: Spec) -> None:
    if len(dirichlet_dofs) == 0 and not robin:
        raise ProblemError(
            "no Dirichlet or Robin boundary is given, so the solution is not unique; "
            "expected at least one boundary part with dirichlet= or robin=."
        )
