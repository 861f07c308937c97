"""One sample on disk: a mesh, its fields and plain metadata in one .npz file.

Written atomically and byte-for-byte deterministically (zip entries carry a fixed date), so
a regenerated sample has the same checksum; read with allow_pickle=False and validated, so
a truncated or tampered file is named, never half-used.

Keys: points (N, d), cells (M, d+1), part.NAME (F, d) boundary facets, shape.K.TYPE the
K-th block of cells as another solver wrote them (quads, hexahedra, ...; absent for
simplex meshes), field.NAME (N, C)
for steady or (T, N, C) for transient fields, times (T,) (empty when steady), and meta, a
JSON string (recipe name, index, seed, drawn parameters). Generated fields are stored in
float32, the precision training uses (a 600-step cylinder_flow sample is then about 13 MB
instead of 26); ingested fields keep float64, so a user's data comes back exactly; points
stay float64.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from solvers.atomic import atomic_path
from solvers.errors import InputError
from solvers.limits import memory_budget
from solvers.mesh import Mesh

FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date zip can store


class DatasetError(InputError):
    """A dataset file or folder cannot be used."""


@dataclass(frozen=True)
class Sample:
    """A mesh with fields: (N, C) arrays when steady, (T, N, C) with times (T,) when
    transient; meta holds JSON-serialisable values."""

    mesh: Mesh
    fields: dict[str, np.ndarray]
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    meta: dict = field(default_factory=dict)

    @property
    def transient(self) -> bool:
        return len(self.times) > 0


def sample_path(folder: str | Path, index: int) -> Path:
    """Where sample index lives in a dataset folder."""
    return Path(folder) / "samples" / f"sample_{index:06d}.npz"


def write_sample(path: str | Path, sample: Sample, field_dtype=np.float32) -> None:
    arrays = {"points": sample.mesh.points, "cells": sample.mesh.cells, "times": sample.times}
    arrays |= {f"part.{name}": facets for name, facets in sample.mesh.boundary_parts.items()}
    arrays |= {f"shape.{k:03d}.{kind}": data for k, (kind, data) in enumerate(sample.mesh.shapes)}
    arrays |= {f"field.{n}": np.asarray(v, field_dtype) for n, v in sample.fields.items()}
    arrays["meta"] = np.array(json.dumps(sample.meta, sort_keys=True))
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as handle:
                np.lib.format.write_array(handle, np.array(arrays[key], order="C"))


def read_arrays(path: str | Path, names: tuple[str, ...] | None = None) -> dict:
    """The named arrays (all when None) of an .npz, read without pickle after checking that
    its members' declared sizes fit in memory (a small zip can claim gigabytes);
    DatasetError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such sample file.")
    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(member.file_size for member in archive.infolist())
        if declared > memory_budget():
            raise DatasetError(
                f"{path}: its arrays unpack to {declared / 2**30:.1f} GiB; expected at most "
                f"{memory_budget() / 2**30:.1f} GiB (a quarter of this machine's memory)."
            )
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in (archive.files if names is None else names)}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise DatasetError(
            f"{path}: cannot be read ({type(error).__name__}: {str(error)[:200]}); expected a "
            "complete .npz sample of plain arrays (is it truncated or corrupted?)."
        ) from None


def read_sample(path: str | Path) -> Sample:
    """The sample in path; DatasetError naming the file and the problem otherwise."""
    return _sample_from(Path(path), read_arrays(path))


def _sample_from(path: Path, arrays: dict[str, np.ndarray]) -> Sample:
    missing = {"points", "cells", "times", "meta"} - set(arrays)
    if missing:
        raise DatasetError(f"{path}: lacks {', '.join(sorted(missing))}; expected a sample file.")
    parts = {k[5:]: v for k, v in arrays.items() if k.startswith("part.")}
    shapes = tuple((k.split(".")[2], arrays[k]) for k in sorted(arrays) if k.startswith("shape."))
    try:
        mesh = Mesh(arrays["points"], arrays["cells"], parts, shapes)
        meta = json.loads(arrays["meta"].item())
    except (InputError, ValueError) as error:
        raise DatasetError(f"{path}: {error}") from None
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: its meta is {type(meta).__name__}; expected a JSON object.")
    times = arrays["times"]
    if not (
        times.ndim == 1
        and np.issubdtype(times.dtype, np.number)
        and np.all(np.isfinite(times))
        and np.all(np.diff(times) > 0)
    ):
        raise DatasetError(f"{path}: its times are not finite and increasing; expected (T,).")
    fields = {k[6:]: v for k, v in arrays.items() if k.startswith("field.")}
    leading = (len(times), mesh.num_nodes) if len(times) else (mesh.num_nodes,)
    for name, values in fields.items():
        if values.ndim != len(leading) + 1 or values.shape[:-1] != leading:
            expected = ", ".join(map(str, leading))
            raise DatasetError(
                f"{path}: field '{name}' has shape {values.shape}; expected ({expected}, C)."
            )
        if not np.issubdtype(values.dtype, np.number):
            raise DatasetError(f"{path}: field '{name}' holds {values.dtype}; expected numbers.")
        if not np.all(np.isfinite(values)):
            raise DatasetError(f"{path}: field '{name}' has NaN or infinite values.")
    return Sample(mesh, fields, times, meta)


def checksum(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
