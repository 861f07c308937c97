"""Mesh -> torch_geometric graph with its multigrid hierarchy, batched level by level.

Level 0 uses PyG's names (x, pos, edge_index, edge_attr); level l >= 1 adds pos_l,
edge_index_l, edge_attr_l, and every level but the last adds cluster_l and candidates_l
(indices into level l + 1). MeshGraph tells PyG how to offset those indices when graphs of
different meshes are batched, so each graph keeps its own hierarchy. Per-step fields
(T, N, C) end in _steps and are batched along the node axis.
"""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Data

from solvers import Mesh
from surrogate.node_types import NODE_TYPES, node_types
from surrogate.pooling.connect import edge_geometry
from surrogate.pooling.hierarchy import Hierarchy, build_hierarchy


class MeshGraph(Data):
    """A graph with per-level attributes; see the module docstring for the names."""

    def __inc__(self, key: str, value, *args, **kwargs):
        if key.startswith("edge_index_"):
            return getattr(self, f"num_nodes_{key.rsplit('_', 1)[1]}")
        if key.startswith(("cluster_", "candidates_")):
            return getattr(self, f"num_nodes_{int(key.rsplit('_', 1)[1]) + 1}")
        return super().__inc__(key, value, *args, **kwargs)

    def __cat_dim__(self, key: str, value, *args, **kwargs):
        if key.startswith("edge_index_"):
            return -1
        if key.endswith("_steps"):  # (T, N, C): nodes are the second axis
            return 1
        return super().__cat_dim__(key, value, *args, **kwargs)

    def level(self, l: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(pos, edge_index, edge_attr) of level l."""
        if l == 0:
            return self.pos, self.edge_index, self.edge_attr
        return (
            getattr(self, f"pos_{l}"),
            getattr(self, f"edge_index_{l}"),
            getattr(self, f"edge_attr_{l}"),
        )

    def level_size(self, l: int) -> int:
        value = getattr(self, f"num_nodes_{l}")
        return int(value.sum()) if torch.is_tensor(value) else int(value)

    def level_batch(self, l: int) -> torch.Tensor:
        """(K,) the graph of each node of level l, within a batch (all 0 for one graph)."""
        sizes = torch.as_tensor(getattr(self, f"num_nodes_{l}")).reshape(-1)
        graphs = torch.arange(len(sizes), device=self.pos.device)
        return graphs.repeat_interleave(sizes.to(self.pos.device))


def mesh_edge_index(mesh: Mesh) -> np.ndarray:
    """(2, 2E) edges of the mesh in both directions."""
    edges = mesh.edges.T
    return np.concatenate([edges, edges[::-1]], axis=1)


def mesh_graph(
    mesh: Mesh,
    x: np.ndarray | torch.Tensor | None = None,
    hierarchy: Hierarchy | None = None,
    **hierarchy_options,
) -> MeshGraph:
    """Graph of a mesh with node features x (N, F) and its hierarchy (built if not given)."""
    edge_index = mesh_edge_index(mesh)
    if hierarchy is None:
        hierarchy = build_hierarchy(mesh.points, edge_index, **hierarchy_options)
    return graph_from_hierarchy(hierarchy, x)


def graph_from_hierarchy(hierarchy: Hierarchy, x=None) -> MeshGraph:
    data = MeshGraph(num_levels=len(hierarchy.levels))
    for l, level in enumerate(hierarchy.levels):
        suffix = "" if l == 0 else f"_{l}"
        data[f"pos{suffix}"] = torch.tensor(level.pos, dtype=torch.float32)
        data[f"edge_index{suffix}"] = torch.as_tensor(level.edge_index, dtype=torch.long)
        attr = edge_geometry(level.pos, level.edge_index)
        data[f"edge_attr{suffix}"] = torch.as_tensor(attr, dtype=torch.float32)
        data[f"num_nodes_{l}"] = level.num_nodes
        if level.cluster is not None:
            data[f"cluster_{l}"] = torch.as_tensor(level.cluster, dtype=torch.long)
            data[f"candidates_{l}"] = torch.as_tensor(level.candidates, dtype=torch.long)
    if x is not None:
        data.x = torch.as_tensor(x, dtype=torch.float32)
    data.num_nodes = hierarchy.levels[0].num_nodes
    return data


def node_type_features(mesh: Mesh, part_roles: dict[str, str]) -> torch.Tensor:
    """(N, len(NODE_TYPES)) one-hot node types, as the network reads them."""
    codes = torch.as_tensor(node_types(mesh, part_roles))
    return torch.nn.functional.one_hot(codes, len(NODE_TYPES)).float()
