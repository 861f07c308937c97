"""Serve a dataset folder as torch_geometric graphs.

Each item is a MeshGraph (pos, edge_index in both directions, raw edge_attr = relative
position and length, and the multigrid hierarchy) with node_type (N, 7) one-hot, inputs
and y. Steady samples give one item each: inputs = input fields, y = target fields.
Transient samples give one item per step t -> t + 1: inputs = input fields at t, state =
target fields at t, y = target fields at t + 1; with history=K > 0, items start at t = K
and also hold the K states before t (earlier_input_steps (K, N, Ci), earlier_target_steps
(K, N, Ct), at t - K .. t - 1) for pushforward training. With trajectories=True an item
is a whole sample instead: input_steps (T, N, Ci) and target_steps (T, N, Ct), T = 1
when steady (what a rollout is checked against). The graph structure and hierarchy of a
mesh are built once and reused for every step, and the hierarchy is kept beside the
dataset (surrogate.data.graph_cache) for the next worker, epoch and run. Nothing is ever
loaded through PyG's processed/ pickle files: items are read from the .npz samples
(allow_pickle=False).
"""

from __future__ import annotations

import copy
import hashlib
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Dataset

from solvers.limits import memory_budget
from surrogate.data.graph_cache import cache_folder, cached_hierarchy
from surrogate.data.manifest import read_manifest, sample_file
from surrogate.data.sample import Sample, read_arrays, read_sample
from surrogate.graph import MeshGraph, graph_from_hierarchy, mesh_edge_index, node_type_features
from surrogate.pooling.hierarchy import Hierarchy, build_hierarchy

# Fields kept in memory per dataset (and worker), besides the cache_size count: a sixteenth
# of the machine's memory, so a dataset of small samples stays whole and large ones cycle.
FIELD_CACHE_BYTES = memory_budget() // 4


def split_by_geometry(
    folder: str | Path, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> dict[str, list[int]]:
    """Sample indices of train / validation / test, whole geometries at a time: samples
    whose meshes are identical always share a split, so test meshes are never trained on."""
    folder = Path(folder)
    groups: dict[str, list[int]] = {}
    for entry in read_manifest(folder)["samples"]:
        arrays = read_arrays(sample_file(folder, entry), ("points", "cells"))
        digest = hashlib.sha256(arrays["points"].tobytes() + arrays["cells"].tobytes())
        groups.setdefault(digest.hexdigest(), []).append(entry["index"])
    keys = sorted(groups)
    order = np.random.default_rng(seed).permutation(len(keys))
    bounds = np.round(np.cumsum(fractions) / np.sum(fractions) * len(keys)).astype(int)
    splits = {"train": [], "validation": [], "test": []}
    for position, key_index in enumerate(order):
        name = ("train", "validation", "test")[int(np.searchsorted(bounds, position, "right"))]
        splits[name] += groups[keys[key_index]]
    return {name: sorted(indices) for name, indices in splits.items()}


class MeshDataset(Dataset):
    """Graphs of the samples (given indices, default all) of a dataset folder."""

    def __init__(
        self,
        folder: str | Path,
        indices: list[int] | None = None,
        hierarchy_options: dict | None = None,
        cache_size: int = 4096,
        trajectories: bool = False,
        history: int = 0,
        graph_cache: bool = True,
    ) -> None:
        super().__init__(root=None)
        self.folder = Path(folder)
        manifest = read_manifest(self.folder)
        entries = {e["index"]: e for e in manifest["samples"]}
        self.sample_indices = sorted(entries) if indices is None else list(indices)
        self.files = [sample_file(self.folder, entries[i]) for i in self.sample_indices]
        self.checksums = [entries[i].get("sha256") for i in self.sample_indices]
        roles = {name: spec.get("role") for name, spec in manifest["fields"].items()}
        self.inputs = [name for name, role in roles.items() if role == "input"]
        self.targets = [name for name, role in roles.items() if role == "target"]
        self.transient = bool(manifest["recipe"]["transient"])
        steps = [entries[i]["steps"] for i in self.sample_indices]
        pairs = [max(s - 1, 1) if self.transient and not trajectories else 1 for s in steps]
        self.history = history if self.transient and not trajectories else 0
        self.items = [(k, t) for k, count in enumerate(pairs) for t in range(self.history, count)]
        self.trajectories = trajectories
        self.hierarchy_options = hierarchy_options or {}
        self.cache = cache_folder(self.folder, self.hierarchy_options) if graph_cache else None
        self._samples: OrderedDict[int, Sample] = OrderedDict()
        self._bytes = 0  # of the fields in _samples
        self._structures: dict[int, tuple[MeshGraph, torch.Tensor]] = {}
        self.cache_size = cache_size

    def len(self) -> int:
        return len(self.items)

    def get(self, idx: int) -> MeshGraph:
        k, t = self.items[idx]
        sample, structure, types = self._load(k)
        graph = copy.copy(structure)  # shares the structure's tensors, which nothing alters
        graph.node_type = types
        graph.sample = torch.tensor([self.sample_indices[k]])
        if self.trajectories:  # every time (steady samples: one)
            steps = max(len(sample.times), 1), len(types)
            graph.input_steps = _field_steps(sample, self.inputs, slice(None), steps)
            graph.target_steps = _field_steps(sample, self.targets, slice(None), steps)
            return graph
        if self.transient:
            inputs = [sample.fields[n][t] for n in self.inputs]
            graph.state = _stack([sample.fields[n][t] for n in self.targets], len(types))
            after = [sample.fields[n][t + 1] for n in self.targets]
            graph.time = torch.tensor([float(sample.times[t])])
            if self.history:
                earlier, steps = slice(t - self.history, t), (self.history, len(types))
                graph.earlier_input_steps = _field_steps(sample, self.inputs, earlier, steps)
                graph.earlier_target_steps = _field_steps(sample, self.targets, earlier, steps)
        else:
            inputs = [sample.fields[n] for n in self.inputs]
            after = [sample.fields[n] for n in self.targets]
        graph.inputs = _stack(inputs, len(types))
        graph.y = _stack(after, len(types))
        return graph

    def _load(self, k: int) -> tuple[Sample, MeshGraph, torch.Tensor]:
        """The sample (fields kept for the last cache_size samples) and its mesh's graph
        structure and node types (kept for every sample: built once per mesh)."""
        if k in self._samples:
            self._samples.move_to_end(k)
        else:
            self._samples[k] = read_sample(self.files[k])
            self._bytes += _field_bytes(self._samples[k])
            while len(self._samples) > 1 and (
                len(self._samples) > self.cache_size or self._bytes > FIELD_CACHE_BYTES
            ):
                self._bytes -= _field_bytes(self._samples.popitem(last=False)[1])
        sample = self._samples[k]
        if k not in self._structures:
            types = node_type_features(sample.mesh, sample.meta.get("part_roles", {}))
            self._structures[k] = (graph_from_hierarchy(self._hierarchy(k, sample)), types)
        return (sample, *self._structures[k])

    def _hierarchy(self, k: int, sample: Sample) -> Hierarchy:
        """Sample k's hierarchy: from the cache beside the dataset when it is current."""
        mesh = sample.mesh
        build = lambda: build_hierarchy(  # noqa: E731
            mesh.points, mesh_edge_index(mesh), **self.hierarchy_options
        )
        if self.cache is None or not self.checksums[k]:
            return build()
        path = self.cache / self.files[k].name
        return cached_hierarchy(path, self.checksums[k], mesh.num_nodes, build)


def _field_bytes(sample: Sample) -> int:
    return sum(values.nbytes for values in sample.fields.values())


def _field_steps(sample: Sample, names: list[str], times: slice, steps: tuple[int, int]):
    """(T, N, C) the named fields at the given times, side by side; steps = (T, N)."""
    return _stack([sample.fields[n][times].reshape(*steps, -1) for n in names], *steps)


def _stack(arrays: list[np.ndarray], *leading: int) -> torch.Tensor:
    """Fields (..., C_i) side by side; (*leading, 0) when there are none."""
    if not arrays:
        return torch.zeros(*leading, 0)
    return torch.as_tensor(np.concatenate(arrays, axis=-1), dtype=torch.float32)
