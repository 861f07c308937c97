"""Serving graphs: fields, node types, hierarchy reuse, geometry splits."""

import numpy as np
import pytest
import torch

import surrogate.data.graphs as graphs
from solvers import Mesh, geometry, heat
from solvers.mesh_io import write_time_series
from surrogate.cli import main
from surrogate.data import graph_cache
from surrogate.data.generate import generate
from surrogate.data.graph_cache import read_hierarchy, write_hierarchy
from surrogate.data.graphs import MeshDataset, split_by_geometry
from surrogate.data.recipes import load_recipe
from surrogate.data.sample import checksum
from surrogate.node_types import NODE_TYPES, node_types


@pytest.fixture(scope="module")
def heat_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("heat")
    generate(load_recipe("heat_holes", ["h=0.2", "steps=3"]), folder, samples=5, progress=False)
    return folder


def test_node_types_on_a_hand_made_square(two_triangles):
    parts = {"inlet": [[0, 3]], "bottom": [[0, 1]], "walls": [[2, 3]]}
    mesh = Mesh(
        two_triangles.points, two_triangles.cells, {k: np.array(v) for k, v in parts.items()}
    )
    types = node_types(mesh, {"bottom": "neumann"})
    # node 0: inlet (inflow) beats bottom (neumann); 1: neumann; 2: wall; 3: inflow beats wall
    assert [NODE_TYPES[t] for t in types] == ["inflow", "neumann", "wall", "inflow"]


def test_transient_items_pair_consecutive_steps(heat_folder):
    dataset = MeshDataset(heat_folder)
    assert len(dataset) == 5 * 3  # 4 saved states per sample -> 3 pairs
    graph = dataset[1]
    sample = dataset._load(0)[0]
    kappa, u = sample.fields["kappa"], sample.fields["u"]
    torch.testing.assert_close(graph.inputs, torch.tensor(kappa[1]))
    torch.testing.assert_close(graph.state, torch.tensor(u[1]))
    torch.testing.assert_close(graph.y, torch.tensor(u[2]))
    src, dst = graph.edge_index
    relative = graph.pos[dst] - graph.pos[src]
    torch.testing.assert_close(graph.edge_attr[:, :2], relative)
    torch.testing.assert_close(graph.edge_attr[:, 2], relative.norm(dim=1))
    assert graph.edge_index.shape[1] == 2 * len(sample.mesh.edges)  # both directions
    assert graph.node_type.shape == (sample.mesh.num_nodes, len(NODE_TYPES))
    holes = sample.mesh.part_nodes("hole_0")
    assert torch.all(graph.node_type[holes, NODE_TYPES.index("dirichlet")] == 1)
    assert graph.num_levels >= 2 and hasattr(graph, "cluster_0")
    assert not (heat_folder / "processed").exists()


def test_items_with_history_carry_the_states_before_them(heat_folder):
    dataset = MeshDataset(heat_folder, history=2)
    assert len(dataset) == 5 * 1  # of 3 pairs per sample, only t = 2 has 2 states before it
    graph = dataset[0]
    sample = dataset._load(0)[0]
    kappa, u = sample.fields["kappa"], sample.fields["u"]
    torch.testing.assert_close(graph.inputs, torch.tensor(kappa[2]))
    torch.testing.assert_close(graph.state, torch.tensor(u[2]))
    torch.testing.assert_close(graph.y, torch.tensor(u[3]))
    torch.testing.assert_close(graph.earlier_input_steps, torch.tensor(kappa[:2]))
    torch.testing.assert_close(graph.earlier_target_steps, torch.tensor(u[:2]))
    assert len(MeshDataset(heat_folder, history=2, trajectories=True)) == 5  # no effect there


def _counting_builds(monkeypatch) -> list:
    calls = []
    original = graphs.build_hierarchy
    monkeypatch.setattr(
        graphs, "build_hierarchy", lambda *a, **kw: calls.append(1) or original(*a, **kw)
    )
    return calls


def test_hierarchy_is_built_once_per_mesh(heat_folder, monkeypatch):
    calls = _counting_builds(monkeypatch)
    dataset = MeshDataset(heat_folder, indices=[0, 1], cache_size=1, graph_cache=False)
    for _ in range(2):  # samples evicted from the field cache keep their structure
        for i in range(len(dataset)):
            dataset[i]
    assert len(calls) == 2


def _assert_same_graphs(one: MeshDataset, other: MeshDataset) -> None:
    for i in range(len(one)):
        a, b = one[i], other[i]
        assert sorted(a.keys()) == sorted(b.keys())
        for key in a.keys():
            if torch.is_tensor(a[key]):
                assert torch.equal(a[key], b[key]), key
            else:
                assert a[key] == b[key], key


@pytest.fixture
def cache_small_meshes(monkeypatch):
    monkeypatch.setattr(graph_cache, "MIN_CACHED_NODES", 0)  # the tests' meshes are small


def test_small_meshes_are_not_cached(heat_folder):
    MeshDataset(heat_folder)[0]
    assert not (heat_folder / "graphs").exists()


@pytest.mark.usefixtures("cache_small_meshes")
def test_cached_hierarchies_equal_fresh_ones_and_are_not_rebuilt(tmp_path, monkeypatch):
    folder = tmp_path / "heat"
    generate(load_recipe("heat_holes", ["h=0.2", "steps=2"]), folder, samples=3, progress=False)
    options = {"num_levels": 3}
    fresh = MeshDataset(folder, hierarchy_options=options, graph_cache=False)
    filling = MeshDataset(folder, hierarchy_options=options)
    _assert_same_graphs(fresh, filling)
    cached = sorted((folder / "graphs").glob("*/sample_*.npz"))
    assert len(cached) == 3  # one per sample, under a folder named by the options
    calls = _counting_builds(monkeypatch)
    _assert_same_graphs(fresh, MeshDataset(folder, hierarchy_options=options))
    assert not calls  # every hierarchy came from the cache
    MeshDataset(folder, hierarchy_options={"num_levels": 2})[0]
    assert len(calls) == 1  # other options: another cache


@pytest.mark.usefixtures("cache_small_meshes")
def test_a_stale_or_broken_cache_is_rebuilt(tmp_path, monkeypatch):
    folder = tmp_path / "heat"
    generate(load_recipe("heat_holes", ["h=0.2", "steps=2"]), folder, samples=2, progress=False)
    fresh = MeshDataset(folder, graph_cache=False)
    fresh[0], fresh[2], MeshDataset(folder)[0], MeshDataset(folder)[2]  # fill the cache
    first, second = sorted((folder / "graphs").glob("*/sample_*.npz"))
    # sample 0's entry now holds sample 1's hierarchy, as if sample 0 had been regenerated
    stale = read_hierarchy(second, checksum(folder / "samples" / "sample_000001.npz"))
    write_hierarchy(first, "a checksum of an older sample", stale)
    second.write_bytes(second.read_bytes()[:100])  # truncated
    calls = _counting_builds(monkeypatch)
    _assert_same_graphs(fresh, MeshDataset(folder))
    assert len(calls) == 2
    assert read_hierarchy(first, checksum(folder / "samples" / "sample_000000.npz"))


def test_splits_are_disjoint_whole_geometries(heat_folder):
    splits = split_by_geometry(heat_folder, (0.6, 0.2, 0.2), seed=1)
    everything = sorted(i for indices in splits.values() for i in indices)
    assert everything == list(range(5))
    assert all(not set(a) & set(b) for a in splits.values() for b in splits.values() if a is not b)
    assert split_by_geometry(heat_folder, (0.6, 0.2, 0.2), seed=1) == splits
    points = {
        i: MeshDataset(heat_folder, [i])._load(0)[0].mesh.points.tobytes() for i in everything
    }
    train_meshes = {points[i] for i in splits["train"]}
    assert not train_meshes & {points[i] for i in splits["test"]}


def test_samples_sharing_a_mesh_share_a_split(tmp_path):
    mesh = geometry.rectangle_with_holes(seed=5, h=0.2)
    for run, value in (("a", 1.0), ("b", 2.0), ("c", 3.0)):
        u = heat(mesh, dirichlet={"left": value}, dt=0.1, steps=2)
        write_time_series(mesh, tmp_path / run / "s.pvd", [0, 0.1, 0.2], {"u": u})
    other = geometry.rectangle_with_holes(seed=6, h=0.2)
    u = heat(other, dirichlet={"left": 1.0}, dt=0.1, steps=2)
    write_time_series(other, tmp_path / "d" / "s.pvd", [0, 0.1, 0.2], {"u": u})
    sources = [str(tmp_path / run / "s.pvd") for run in "abcd"]
    assert main(["ingest", *sources, "--fields", "u", "--out", str(tmp_path / "data")]) == 0
    for seed in range(5):
        splits = split_by_geometry(tmp_path / "data", (0.5, 0.0, 0.5), seed=seed)
        together = [name for name, indices in splits.items() if {0, 1, 2} <= set(indices)]
        assert len(together) == 1 and 3 not in splits[together[0]]
