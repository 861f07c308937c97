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
    """The manifest of a dataset folder, its structure checked: the entries this code
    reads, of the types it reads them as; DatasetError naming the first problem."""
    path = Path(folder) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"{path}: no manifest; expected a dataset folder.") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot be read ({error}); expected JSON.") from None
    version = manifest.get("schema_version") if isinstance(manifest, dict) else None
    if version != SCHEMA_VERSION:
        raise DatasetError(
            f"{path}: schema version {version}; expected {SCHEMA_VERSION} (a dataset "
            "written by this version of the product)."
        )
    problem = _structure_problem(manifest)
    if problem:
        raise DatasetError(f"{path}: {problem}; expected a manifest written by this product.")
    return manifest


# What each entry must be (surrogate generate and ingest write these).
ENTRY = {"index": int, "file": str, "sha256": str, "steps": int}
RECIPE = {"name": str, "family": str, "transient": bool, "parameters": dict}


def _structure_problem(manifest: dict) -> str | None:
    """The first entry of the wrong kind, or None."""
    for key, kind in {"recipe": dict, "fields": dict, "samples": list, "complete": bool}.items():
        if not _is(manifest.get(key), kind):
            return f"'{key}' is {manifest.get(key)!r:.60}, not a {kind.__name__}"
    for key, kind in RECIPE.items():
        if not _is(manifest["recipe"].get(key), kind):
            return f"recipe '{key}' is missing or not a {kind.__name__}"
    for name, spec in manifest["fields"].items():
        if not (isinstance(spec, dict) and _is(spec.get("components"), int)):
            return f"field '{name}' has no whole number of components"
    for entry in manifest["samples"]:
        if not isinstance(entry, dict) or not all(
            _is(entry.get(key), kind) for key, kind in ENTRY.items()
        ):
            return f"sample entry {entry!r:.80} lacks one of {', '.join(ENTRY)} or has another type"
    return None


def _is(value, kind: type) -> bool:
    """isinstance, except that a bool is no int."""
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def sample_file(folder: str | Path, entry: dict) -> Path:
    """The file of a manifest entry, confined to the dataset's samples/ folder and a
    regular file; DatasetError otherwise (a manifest is data: it never points elsewhere)."""
    folder = Path(folder)
    path = folder / entry["file"]
    if not path.resolve().is_relative_to((folder / "samples").resolve()):
        raise DatasetError(
            f"{folder / 'manifest.json'}: sample {entry['index']} names '{entry['file']}', "
            "outside the dataset's samples/ folder; expected samples/sample_NNNNNN.npz."
        )
    if path.exists() and not path.is_file():
        raise DatasetError(f"{path}: not a regular file; expected a .npz sample.")
    return path


def check_dataset(folder: str | Path) -> list[str]:
    """One sentence per problem found (an empty list when the dataset is sound)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    problems = []
    if not manifest["complete"]:
        found, expected = len(manifest["samples"]), manifest["samples_expected"]
        problems.append(f"{folder}: {found} of {expected} samples; generation is unfinished.")
    for entry in manifest["samples"]:
        path = sample_file(folder, entry)
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
    files = [sample_file(folder, e) for e in entries]
    size = sum(path.stat().st_size for path in files if path.exists())
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
