"""Multigrid hierarchies kept beside a dataset, so that training builds each mesh's once:
FOLDER/graphs/KEY/sample_XXXXXX.npz, KEY naming the hierarchy options (and CACHE_VERSION).

Each file records the SHA-256 of the sample it was built from (the manifest's); a file
whose checksum differs (the sample was regenerated or replaced), that cannot be read, or
whose arrays do not form a hierarchy is stale and is rebuilt. Files are written atomically
(several DataLoader workers may race to write one: the last rename wins, both are whole);
a dataset folder that cannot be written to is simply not cached. Read without pickle.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from solvers.atomic import atomic_path
from surrogate.data.sample import DatasetError, read_arrays
from surrogate.pooling.hierarchy import Hierarchy, Level

CACHE_VERSION = 1  # bump when build_hierarchy gives other levels for the same options
# Smaller meshes gain nothing measurable (the recipes' 1-2k-node datasets loaded no faster
# with a cache); 20k nodes: 0.09 s to build, 0.008 s to read (benchmarks/data_pipeline.py).
MIN_CACHED_NODES = 10_000


def cache_folder(dataset: str | Path, options: dict) -> Path:
    """Where the hierarchies built with these options live in a dataset folder."""
    key = json.dumps({"version": CACHE_VERSION, **options}, sort_keys=True)
    return Path(dataset) / "graphs" / hashlib.sha256(key.encode()).hexdigest()[:16]


def cached_hierarchy(
    path: Path, checksum: str, nodes: int, build: Callable[[], Hierarchy]
) -> Hierarchy:
    """The hierarchy stored at path if it was built from the sample with this checksum,
    else build() (stored at path when the folder can be written); meshes of fewer than
    MIN_CACHED_NODES nodes are always built."""
    if nodes < MIN_CACHED_NODES:
        return build()
    hierarchy = read_hierarchy(path, checksum)
    if hierarchy is None:
        hierarchy = build()
        with contextlib.suppress(OSError):
            write_hierarchy(path, checksum, hierarchy)
    return hierarchy


def write_hierarchy(path: Path, checksum: str, hierarchy: Hierarchy) -> None:
    arrays = {"checksum": np.array(checksum), "levels": np.array(len(hierarchy.levels))}
    for l, level in enumerate(hierarchy.levels):
        arrays[f"pos.{l}"], arrays[f"edge_index.{l}"] = level.pos, level.edge_index
        if level.cluster is not None:
            arrays[f"cluster.{l}"], arrays[f"candidates.{l}"] = level.cluster, level.candidates
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)


def read_hierarchy(path: Path, checksum: str) -> Hierarchy | None:
    """The stored hierarchy, or None when absent, stale or not a hierarchy."""
    if not path.is_file():
        return None
    try:
        arrays = read_arrays(path)
        if str(arrays["checksum"]) != checksum:
            return None
        count = int(arrays["levels"])
        levels = []
        for l in range(count):
            coarse = (arrays[f"cluster.{l}"], arrays[f"candidates.{l}"]) if l < count - 1 else ()
            levels.append(Level(arrays[f"pos.{l}"], arrays[f"edge_index.{l}"], *coarse))
    except (DatasetError, KeyError, ValueError, TypeError):
        return None
    return Hierarchy(tuple(levels)) if _consistent(levels) else None


def _consistent(levels: list[Level]) -> bool:
    """Indices in range, shapes as build_hierarchy makes them."""
    for l, level in enumerate(levels):
        n = level.num_nodes
        edges = level.edge_index
        if level.pos.ndim != 2 or edges.ndim != 2 or len(edges) != 2:
            return False
        if edges.size and not (0 <= edges.min() and edges.max() < n):
            return False
        if l < len(levels) - 1:
            coarse = levels[l + 1].num_nodes
            for indices in (level.cluster, level.candidates):
                if len(indices) != n or (indices.size and not indices.max() < coarse):
                    return False
            if level.cluster.size and level.cluster.min() < 0:
                return False
    return bool(levels)
