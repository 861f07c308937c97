"""manifest.json: what a dataset folder holds, with a checksum per sample file.

Built by scanning the sample files in index order, with no dates or timings, so the same
samples always give the same manifest. `check_dataset` verifies schema, files, checksums
and contents and names every bad file; `dataset_info` summarises.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from solvers.atomic import atomic_path
from surrogate.data.sample import DatasetError, checksum, read_sample, sample_path

SCHEMA_VERSION = 1


def write_manifest(out: Path, recipe: dict, seed: int | None, samples: int) -> dict:
    """Scan OUT/samples for indices below samples and write OUT/manifest.json."""
    out = Path(out)
    entries, components = [], {}
    for index in range(samples):
        path = sample_path(out, index)
        if not path.exists():
            continue
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(archive["meta"].item())
            shapes = {k[6:]: archive[k].shape for k in archive.files if k.startswith("field.")}
            nodes, cells = len(archive["points"]), len(archive["cells"])
            steps = len(archive["times"])
        components = components or {name: shape[-1] for name, shape in shapes.items()}
        entries.append(
            {
                "index": index,
                "file": str(path.relative_to(out)),
                "sha256": checksum(path),
                "seed": meta.get("seed"),
                "nodes": nodes,
                "cells": cells,
                "steps": steps,
            }
        )
    fields = {
        name: {**spec, "components": components.get(name)}
        for name, spec in recipe["fields"].items()
    }
    nodes = [e["nodes"] for e in entries]
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "recipe": recipe,
        "seed": seed,
        "samples_expected": samples,
        "complete": len(entries) == samples,
        "fields": fields,
        "mesh_nodes": {"min": min(nodes), "mean": float(np.mean(nodes)), "max": max(nodes)}
        if nodes
        else None,
        "samples": entries,
    }
    with atomic_path(out / "manifest.json") as tmp:
        Path(tmp).write_text(json.dumps(manifest, indent=1))
    return manifest


def read_manifest(folder: str | Path) -> dict:
    path = Path(folder) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"{path}: no manifest; expected a dataset folder.") from None
    except (OSError, json.JSONDecodeError) as error:
        raise DatasetError(f"{path}: cannot be read ({error}); expected JSON.") from None
    version = manifest.get("schema_version") if isinstance(manifest, dict) else None
    if version != SCHEMA_VERSION:
        raise DatasetError(
            f"{path}: schema version {version}; expected {SCHEMA_VERSION} (a dataset "
            "written by this version of the product)."
        )
    return manifest


def check_dataset(folder: str | Path) -> list[str]:
    """One sentence per problem found (an empty list when the dataset is sound)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    problems = []
    if not manifest["complete"]:
        found, expected = len(manifest["samples"]), manifest["samples_expected"]
        problems.append(f"{folder}: {found} of {expected} samples; generation is unfinished.")
    for entry in manifest["samples"]:
        path = folder / entry["file"]
        if not path.exists():
            problems.append(f"{path}: missing.")
            continue
        if checksum(path) != entry["sha256"]:
            problems.append(f"{path}: checksum differs from the manifest (modified or corrupted).")
            continue
        try:
            sample = read_sample(path)
        except DatasetError as error:
            problems.append(str(error))
            continue
        missing = set(manifest["fields"]) - set(sample.fields)
        if missing:
            problems.append(f"{path}: lacks field(s) {', '.join(sorted(missing))}.")
    return problems


def dataset_info(folder: str | Path) -> str:
    manifest = read_manifest(folder)
    recipe, entries = manifest["recipe"], manifest["samples"]
    size = sum(
        (Path(folder) / e["file"]).stat().st_size
        for e in entries
        if (Path(folder) / e["file"]).exists()
    )
    lines = [
        f"{folder}: recipe {recipe['name']} ({recipe['family']}, "
        f"{'transient' if recipe['transient'] else 'steady'}), seed {manifest['seed']}",
        f"samples: {len(entries)} of {manifest['samples_expected']}"
        f"{'' if manifest['complete'] else ' (unfinished)'}, {size / 1e6:.1f} MB",
    ]
    if manifest["mesh_nodes"]:
        n = manifest["mesh_nodes"]
        lines.append(f"mesh nodes: min {n['min']}, mean {n['mean']:.0f}, max {n['max']}")
    if entries and entries[0]["steps"]:
        lines.append(f"saved steps per sample: {entries[0]['steps']}")
    for name, spec in manifest["fields"].items():
        lines.append(
            f"  {name}: {spec.get('role')}, {spec.get('components')} component(s), "
            f"{spec.get('units')} - {spec.get('description')}"
        )
    return "\n".join(lines)
