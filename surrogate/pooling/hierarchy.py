"""The multigrid hierarchy of a mesh graph: levels of coarse graphs and the assignments
between them, built once per mesh from geometry alone (no learned parameters)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from surrogate.pooling.connect import adjacency, coarse_edges, coarse_positions
from surrogate.pooling.select import bistride, mis_aggregation

SELECT_METHODS: dict[str, Callable] = {
    "mis": mis_aggregation,
    "mis2": lambda a, pos: mis_aggregation(a, pos, distance=2),
    "bistride": bistride,
}


@dataclass(frozen=True)
class Level:
    """One level of the hierarchy.

    pos: (N_l, d) node positions; edge_index: (2, E_l) edges, both directions.
    cluster: (N_l,) coarse node of each node at level l + 1 (None at the coarsest level).
    candidates: (N_l, k) coarse nodes a soft assignment may use, cluster first, then the
        nearest others by distance (None at the coarsest level).
    """

    pos: np.ndarray
    edge_index: np.ndarray
    cluster: np.ndarray | None = None
    candidates: np.ndarray | None = None

    @property
    def num_nodes(self) -> int:
        return len(self.pos)


@dataclass(frozen=True)
class Hierarchy:
    levels: tuple[Level, ...]

    @property
    def sizes(self) -> list[int]:
        return [level.num_nodes for level in self.levels]


def build_hierarchy(
    pos: np.ndarray,
    edge_index: np.ndarray,
    num_levels: int = 4,
    method: str = "mis",
    ratio: float = 4.0,
    candidates: int = 3,
    min_nodes: int = 8,
) -> Hierarchy:
    """Coarsen a graph num_levels - 1 times, each level about `ratio` times smaller.

    Each level applies the Select method until the node count has dropped by at least
    0.75 * ratio (one MIS aggregation is ~4x in 2D, bi-stride is ~2x and runs twice).
    A level that cannot be coarsened further (it would drop below min_nodes nodes, or
    nothing merges) is repeated with the identity assignment, so every graph gets exactly
    num_levels levels and meshes of any size batch together.
    """
    if method not in SELECT_METHODS:
        raise ValueError(
            f"select method '{method}' is unknown; expected one of {list(SELECT_METHODS)}."
        )
    select = SELECT_METHODS[method]
    levels: list[Level] = []
    for _ in range(num_levels - 1):
        cluster = np.arange(len(pos))
        coarse_pos, coarse_edge_index = pos, edge_index
        while len(pos) / len(coarse_pos) < 0.75 * ratio:
            step = select(adjacency(coarse_edge_index, len(coarse_pos)), coarse_pos)
            if step.max() + 1 == len(coarse_pos):
                break  # nothing left to merge (e.g. a graph without edges)
            cluster = step[cluster]
            coarse_pos = coarse_positions(pos, cluster)
            coarse_edge_index = coarse_edges(edge_index, cluster)
        if len(coarse_pos) < min_nodes or len(coarse_pos) == len(pos):
            cluster, coarse_pos, coarse_edge_index = np.arange(len(pos)), pos, edge_index
        levels.append(
            Level(pos, edge_index, cluster, _candidates(pos, coarse_pos, cluster, candidates))
        )
        pos, edge_index = coarse_pos, coarse_edge_index
    levels.append(Level(pos, edge_index))
    return Hierarchy(tuple(levels))


def _candidates(pos, coarse_pos, cluster, k: int) -> np.ndarray:
    """(N, k) the assigned coarse node first, then the nearest other coarse nodes."""
    _, nearest = cKDTree(coarse_pos).query(pos, k=k)
    nearest = nearest.reshape(len(pos), k)
    nearest = np.where(nearest == len(coarse_pos), cluster[:, None], nearest)  # too few: own
    others = np.where(nearest == cluster[:, None], -1, nearest)
    # Drop the assigned node from the nearest list, keep the order of the rest.
    order = np.argsort(others == -1, axis=1, kind="stable")
    others = np.take_along_axis(others, order, axis=1)[:, : k - 1]
    return np.column_stack([cluster, others]).astype(np.int64)
