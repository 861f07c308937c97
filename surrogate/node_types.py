"""Node types: the role of every mesh node, from the roles of the boundary parts it lies on
(one-hot for the network: surrogate.graph.node_type_features)."""

from __future__ import annotations

import numpy as np

from solvers.errors import InputError
from solvers.mesh import Mesh

NODE_TYPES = ("interior", "dirichlet", "neumann", "inflow", "outflow", "wall", "obstacle")
# Where parts share a node, the type later in this list wins: prescribed values over fluxes.
PRECEDENCE = ("interior", "neumann", "outflow", "wall", "obstacle", "inflow", "dirichlet")
# Roles whose nodes hold the pinned targets at prescribed values.
PINNED_ROLES = ("dirichlet", "inflow", "wall", "obstacle")
# Part names that imply a role when a sample does not state one (ingested data); other
# unstated parts count as dirichlet (values given, as walls and inlets usually are).
ROLE_OF_NAME = {
    "inlet": "inflow",
    "outlet": "outflow",
    "walls": "wall",
    "wall": "wall",
    "obstacle": "obstacle",
    "cylinder": "obstacle",
}


def node_types(mesh: Mesh, part_roles: dict[str, str]) -> np.ndarray:
    """(N,) index into NODE_TYPES of every node."""
    rank = np.zeros(mesh.num_nodes, dtype=np.int64)  # index into PRECEDENCE
    for part in mesh.boundary_parts:
        role = part_roles.get(part) or ROLE_OF_NAME.get(part, "dirichlet")
        if role not in NODE_TYPES:
            raise InputError(f"part '{part}' has role '{role}'; expected one of {NODE_TYPES}.")
        nodes = mesh.part_nodes(part)
        rank[nodes] = np.maximum(rank[nodes], PRECEDENCE.index(role))
    order = np.array([NODE_TYPES.index(role) for role in PRECEDENCE])
    return order[rank]
