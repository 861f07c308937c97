"""Boundary conditions: where they apply and what values they take.

A boundary specification is either one value applied on the whole boundary, or a dict
from boundary-part name to a value. A value is a number, a per-node (N,) array (or (N, d)
for vector problems), a callable of the coordinates x (P, d) (of x and t for transient
problems), or, for vector problems, a tuple with one number or None per component (None
leaves that component free). Where parts share nodes, the later dict entry wins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import scipy.sparse as sp

from solvers.errors import ProblemError
from solvers.fem import checked_array, facet_mass
from solvers.mesh import Mesh

Value = float | np.ndarray | tuple | Callable
Spec = Value | Mapping[str, Value] | None


def dirichlet_dofs(
    mesh: Mesh, spec: Spec, components: int = 1, t: float | None = None, name: str = "dirichlet"
) -> tuple[np.ndarray, np.ndarray]:
    """Constrained degrees of freedom (node * components + component) and their values."""
    dofs, values = [], []
    for part, nodes, value in _node_parts(mesh, spec):
        vals, fixed = values_at(mesh, nodes, value, components, f"{name} on {part}", t)
        node_dofs = nodes[:, None] * components + np.arange(components)
        dofs.append(node_dofs[fixed])
        values.append(vals[fixed])
    if not dofs:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    dofs_all, values_all = np.concatenate(dofs)[::-1], np.concatenate(values)[::-1]
    unique, last = np.unique(dofs_all, return_index=True)  # reversed: later entries win
    return unique, values_all[last]


def boundary_load(
    mesh: Mesh, spec: Spec, components: int = 1, t: float | None = None, name: str = "neumann"
) -> np.ndarray:
    """(N,) or (N, components) load of a flux/traction g on boundary parts: (g, v) there."""
    load = np.zeros((mesh.num_nodes, components))
    for part, facets, value in _facet_parts(mesh, spec):
        nodes = np.unique(facets)
        vals, _ = values_at(mesh, nodes, value, components, f"{name} on {part}", t)
        nodal = np.zeros((mesh.num_nodes, components))
        nodal[nodes] = vals
        load += facet_mass(mesh, facets) @ nodal
    return load[:, 0] if components == 1 else load


def robin_matrix(mesh: Mesh, spec: Spec) -> sp.csr_array:
    """(N, N) matrix (alpha u, v) of kappa du/dn = alpha (u_ext - u); spec values (alpha, u_ext)."""
    matrix = sp.csr_array((mesh.num_nodes, mesh.num_nodes))
    for _, facets, alpha, _ in _robin_parts(mesh, spec):
        matrix = matrix + facet_mass(mesh, facets) * alpha
    return matrix


def robin_load(mesh: Mesh, spec: Spec, t: float | None = None) -> np.ndarray:
    """(N,) load (alpha u_ext, v) of the Robin condition; u_ext may be a callable of (x[, t])."""
    load = np.zeros(mesh.num_nodes)
    for part, facets, alpha, u_ext in _robin_parts(mesh, spec):
        nodes = np.unique(facets)
        values, _ = values_at(mesh, nodes, u_ext, 1, f"robin u_ext on {part}", t)
        nodal = np.zeros(mesh.num_nodes)
        nodal[nodes] = values[:, 0]
        load += facet_mass(mesh, facets) @ nodal * alpha
    return load


def _robin_parts(mesh: Mesh, spec: Spec):
    for part, facets, value in _facet_parts(mesh, spec):
        if not (isinstance(value, tuple | list) and len(value) == 2):
            raise ProblemError(f"robin on {part} is {value!r}; expected a pair (alpha, u_ext).")
        alpha = float(checked_array(value[0], (), f"robin alpha on {part}"))
        if alpha < 0:
            raise ProblemError(f"robin alpha on {part} is {alpha}; expected alpha >= 0.")
        yield part, facets, alpha, value[1]


def _node_parts(mesh: Mesh, spec: Spec):
    if spec is None:
        return []
    if isinstance(spec, Mapping):
        return [(f"part '{p}'", mesh.part_nodes(p), v) for p, v in spec.items()]
    return [("the boundary", mesh.boundary_nodes, spec)]


def _facet_parts(mesh: Mesh, spec: Spec):
    if spec is None:
        return []
    if isinstance(spec, Mapping):
        for part in spec:
            mesh.part_nodes(part)  # raises naming the known parts
        return [(f"part '{p}'", mesh.boundary_parts[p], v) for p, v in spec.items()]
    return [("the boundary", mesh.boundary_facets, spec)]


def values_at(
    mesh: Mesh, nodes: np.ndarray, value, components: int, name: str, t: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(B, components) values at the nodes and a mask of the components that are set."""
    shape = (len(nodes), components)
    fixed = np.ones(shape, dtype=bool)
    if callable(value):
        x = mesh.points[nodes]
        raw = value(x) if t is None else value(x, t)
        raw = np.asarray(raw, dtype=np.float64)
        if components == 1:
            raw = raw.reshape(-1, 1) if raw.ndim == 1 else raw
    elif components > 1 and isinstance(value, tuple | list) and len(value) == components:
        fixed[:] = [v is not None for v in value]
        raw = np.array([0.0 if v is None else v for v in value], dtype=np.float64)
    elif np.ndim(value) >= 1 and np.shape(value)[0] == mesh.num_nodes:
        raw = np.asarray(value, dtype=np.float64)[nodes].reshape(len(nodes), -1)
    else:
        raw = value
    try:
        raw = np.broadcast_to(np.asarray(raw, dtype=np.float64), shape)
    except (ValueError, TypeError):
        expected = "a number" if components == 1 else f"a number or {components} components"
        raise ProblemError(
            f"{name} has shape {np.shape(raw)}; expected {expected} per node."
        ) from None
    return checked_array(raw, shape, name), fixed
