"""Select / Connect / Reduce / Lift on tiny hand-computed graphs and on real meshes."""

import itertools

import numpy as np
import pytest
import torch
from scipy.sparse.csgraph import connected_components

from solvers import geometry
from surrogate.graph import mesh_edge_index
from surrogate.nn.pooling import LearnedAssignment, lift, reduce
from surrogate.pooling.connect import adjacency, coarse_edges, coarse_positions
from surrogate.pooling.hierarchy import build_hierarchy
from surrogate.pooling.select import bistride, mis_aggregation, priorities


def undirected(pairs):
    pairs = np.array(pairs).T
    return np.concatenate([pairs, pairs[::-1]], axis=1)


def partition(cluster) -> set[frozenset]:
    """Which nodes end up together, whatever the coarse numbering."""
    return {frozenset(np.flatnonzero(cluster == c).tolist()) for c in np.unique(cluster)}


def test_star_graph_mis_aggregation_by_hand():
    """Centre 0 joined to leaves 1..5. If the centre is not the global priority minimum,
    every leaf becomes a seed (leaves are never adjacent) and the centre joins the leaf of
    smallest priority; otherwise the centre is the only seed."""
    edges = undirected([(0, k) for k in range(1, 6)])
    for shift in range(6):  # different positions give different priorities
        pos = np.column_stack([np.arange(6.0) + shift, np.zeros(6)])
        pos[0] = [-1.5 * shift, 1.0]
        prio = priorities(pos)
        cluster = mis_aggregation(adjacency(edges, 6), pos)
        if prio[0] == prio.min():
            expected = {frozenset(range(6))}
        else:
            first_leaf = 1 + int(np.argmin(prio[1:]))
            expected = {frozenset({0, first_leaf})} | {
                frozenset({k}) for k in range(1, 6) if k != first_leaf
            }
        assert partition(cluster) == expected


def test_path_bistride_by_hand():
    """Path 0-1-...-6: kept nodes are at even distance from the seed (the node of smallest
    priority); each dropped node joins the neighbouring kept node of smaller priority."""
    n = 7
    edges = undirected([(i, i + 1) for i in range(n - 1)])
    pos = np.column_stack([np.arange(n, dtype=float), np.zeros(n)])
    prio = priorities(pos)
    seed = int(np.argmin(prio))
    kept = [i for i in range(n) if (i - seed) % 2 == 0]
    groups = {k: {k} for k in kept}
    for i in set(range(n)) - set(kept):
        groups[min((j for j in (i - 1, i + 1) if j in groups), key=lambda j: prio[j])].add(i)
    cluster = bistride(adjacency(edges, n), pos)
    assert partition(cluster) == {frozenset(g) for g in groups.values()}


def test_connect_and_positions_by_hand():
    """Square 0-1-2-3 with diagonal 0-2, clusters {0,1} and {2,3}."""
    edges = undirected([(0, 1), (1, 2), (2, 3), (3, 0), (0, 2)])
    cluster = np.array([0, 0, 1, 1])
    np.testing.assert_array_equal(coarse_edges(edges, cluster), [[0, 1], [1, 0]])
    pos = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(coarse_positions(pos, cluster), [[0.5, 0.0], [0.5, 1.0]])


def test_reduce_and_lift_by_hand():
    x = torch.tensor([[1.0], [3.0], [5.0], [7.0]])
    hard = torch.tensor([[0], [0], [1], [1]])
    ones = torch.ones(4, 1)
    np.testing.assert_allclose(reduce(x, hard, ones, 2), [[2.0], [6.0]])
    np.testing.assert_allclose(lift(torch.tensor([[2.0], [6.0]]), hard, ones), [[2], [2], [6], [6]])
    soft_index = torch.tensor([[0, 1], [0, 1], [1, 0], [1, 0]])
    soft = torch.tensor([[0.5, 0.5], [1.0, 0.0], [0.75, 0.25], [1.0, 0.0]])
    # coarse 0: (0.5*1 + 1*3 + 0.25*5) / 1.75; coarse 1: (0.5*1 + 0.75*5 + 1*7) / 2.25
    np.testing.assert_allclose(
        reduce(x, soft_index, soft, 2), [[4.75 / 1.75], [11.25 / 2.25]], rtol=1e-6
    )
    np.testing.assert_allclose(
        lift(torch.tensor([[2.0], [6.0]]), soft_index, soft), [[4], [2], [5], [6]]
    )


@pytest.fixture(scope="module")
def plate():
    return geometry.rectangle_with_holes(seed=4, h=0.03)


@pytest.mark.parametrize("method", ["mis", "mis2", "bistride"])
def test_hierarchy_is_deterministic_connected_and_coarsens(plate, method):
    edge_index = mesh_edge_index(plate)
    first = build_hierarchy(plate.points, edge_index, num_levels=4, method=method)
    again = build_hierarchy(plate.points, edge_index, num_levels=4, method=method)
    for a, b in zip(first.levels, again.levels, strict=True):
        np.testing.assert_array_equal(a.pos, b.pos)
        np.testing.assert_array_equal(a.edge_index, b.edge_index)
    sizes = first.sizes
    assert len(sizes) == 4
    if method == "mis2":  # ~10x per level: a third coarsening would leave < 8 nodes
        assert sizes[3] == sizes[2]
        np.testing.assert_array_equal(first.levels[2].cluster, np.arange(sizes[2]))
        sizes = sizes[:3]
    for fine, coarse in itertools.pairwise(sizes):
        assert (
            (3.0 if method != "mis2" else 6.0)
            <= fine / coarse
            <= (6.0 if method != "mis2" else 16.0)
        )
    for level in first.levels:
        graph = adjacency(level.edge_index, level.num_nodes)
        assert connected_components(graph, directed=False)[0] == 1
        if level.cluster is not None:
            assert np.all(level.candidates[:, 0] == level.cluster)


def test_hierarchy_3d():
    box = geometry.box_with_holes(seed=1, n_holes=1, h=0.12)
    h = build_hierarchy(box.points, mesh_edge_index(box), num_levels=3)
    assert len(h.levels) == 3 and h.levels[1].pos.shape[1] == 3
    assert all(
        connected_components(adjacency(lv.edge_index, lv.num_nodes))[0] == 1 for lv in h.levels
    )


def test_learned_assignment_rows_sum_to_one_and_preserve_constants(plate):
    torch.manual_seed(0)
    hierarchy = build_hierarchy(plate.points, mesh_edge_index(plate), num_levels=2)
    fine, coarse = hierarchy.levels
    assign = LearnedAssignment(latent=8, dim=2)
    h = torch.randn(fine.num_nodes, 8)
    candidates = torch.as_tensor(fine.candidates)
    pos, coarse_pos = (torch.tensor(p, dtype=torch.float32) for p in (fine.pos, coarse.pos))
    weight = assign(h, pos, coarse_pos, candidates, torch.tensor(0.05))
    np.testing.assert_allclose(weight.sum(1).detach(), 1.0, rtol=1e-6)
    constant = torch.full((fine.num_nodes, 3), 2.5)
    pooled = reduce(constant, candidates, weight, coarse.num_nodes)
    np.testing.assert_allclose(pooled.detach(), 2.5, rtol=1e-6)  # Reduce keeps constants
    np.testing.assert_allclose(
        lift(pooled, candidates, weight).detach(), 2.5, rtol=1e-6
    )  # Lift o Reduce
