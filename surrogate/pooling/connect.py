"""Connect: coarse graph and coarse positions from a hard assignment of fine to coarse nodes."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def adjacency(edge_index: np.ndarray, num_nodes: int) -> sp.csr_array:
    """(N, N) symmetric 0/1 adjacency of a directed edge list (2, E) that holds both directions."""
    ones = np.ones(edge_index.shape[1])
    matrix = sp.csr_array((ones, (edge_index[0], edge_index[1])), shape=(num_nodes, num_nodes))
    matrix.data[:] = 1.0
    return matrix


def coarse_edges(edge_index: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """(2, E_c) edges of the coarse graph, both directions, sorted: the off-diagonal sparsity
    of S^T A S. Two coarse nodes are joined when any of their fine nodes are, so the coarse
    graph is connected wherever the fine one is."""
    src, dst = cluster[edge_index[0]], cluster[edge_index[1]]
    keep = src != dst
    n = int(cluster.max()) + 1
    keys = np.unique(src[keep] * n + dst[keep])
    return np.stack([keys // n, keys % n])


def coarse_positions(pos: np.ndarray, cluster: np.ndarray, weight: np.ndarray | None = None):
    """(K, d) assignment-weighted mean position of each coarse node's fine nodes."""
    weight = np.ones(len(pos)) if weight is None else weight
    n = int(cluster.max()) + 1
    total = np.bincount(cluster, weight, minlength=n)
    return np.column_stack([np.bincount(cluster, weight * p, n) for p in pos.T]) / total[:, None]


def edge_geometry(pos: np.ndarray, edge_index: np.ndarray) -> np.ndarray:
    """(E, d+1) raw edge features: relative position pos[dst] - pos[src] and its length."""
    relative = pos[edge_index[1]] - pos[edge_index[0]]
    return np.column_stack([relative, np.linalg.norm(relative, axis=1)])
