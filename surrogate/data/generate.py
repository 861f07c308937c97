"""Generate a dataset from a recipe: one file per sample, in parallel, resumable, shardable.

Sample i is a pure function of (recipe, seed, i): its generator is seeded from
SeedSequence([seed, i]), worker processes run single-threaded BLAS, and files are written
atomically and deterministically. So the result does not depend on the number of workers
or shards, and a run killed at any point (even with kill -9) and started again computes
only the missing samples and ends with the same bytes as an uninterrupted run.

Folder layout: OUT/recipe.yaml and OUT/generation.json (what is being generated, checked on
resume), OUT/samples/sample_000000.npz ..., OUT/manifest.json (written when the run ends).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import yaml

from solvers.atomic import atomic_path, removed_on_failure
from solvers.errors import SolverError
from surrogate.data.manifest import write_manifest
from surrogate.data.sample import DatasetError, Sample, sample_path, write_sample
from surrogate.physics import family

SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def sample_seed(seed: int, index: int) -> int:
    """The seed of sample index (also stored in the manifest)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0])


def make_sample(recipe: dict, seed: int, index: int) -> Sample:
    own_seed = sample_seed(seed, index)
    sample = family(recipe["family"]).draw(recipe["parameters"], np.random.default_rng(own_seed))
    meta = {"recipe": recipe["name"], "index": index, "seed": own_seed, **sample.meta}
    return Sample(sample.mesh, sample.fields, sample.times, meta)


def generate(
    recipe: dict,
    out: str | Path,
    samples: int,
    workers: int = 1,
    shard: tuple[int, int] = (0, 1),
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Make the missing samples of this shard; returns the manifest written at the end."""
    out = Path(out)
    with removed_on_failure(out, keep=lambda: has_samples(out)):
        return _make_missing(recipe, out, samples, workers, shard, seed, progress)


def _make_missing(recipe, out: Path, samples, workers, shard, seed, progress) -> dict:
    _prepare(out, recipe, samples, seed)
    index, count = shard
    todo = [i for i in range(index, samples, count) if not sample_path(out, i).exists()]
    _remove_partial_writes(out, set(todo))
    started, done, failed = time.perf_counter(), 0, {}
    os.environ.update(SINGLE_THREADED)  # inherited by the spawned workers
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(_make_and_write, recipe, seed, i, out): i for i in todo}
        for future in as_completed(futures):
            try:
                future.result()
            except SolverError as error:  # one diverging run must not stop the others
                failed[futures[future]] = str(error)
            done += 1
            if progress:
                _report(done, len(todo), time.perf_counter() - started)
    if progress and todo:
        print(file=sys.stderr)
    if failed:
        first = min(failed)
        raise DatasetError(
            f"the solver failed on {len(failed)} of {len(todo)} samples ({_indices(failed)}; "
            f"sample {first}: {failed[first].rstrip('.')}), the others are written; samples "
            "are deterministic, so rather than run it again, generate into a new folder with "
            "a changed recipe (parameter ranges, time step or max_cfl)."
        )
    return write_manifest(out, recipe, seed, samples)


def has_samples(folder: Path) -> bool:
    """Whether a dataset folder holds a finished sample (then a rerun resumes from it)."""
    return any((folder / "samples").glob("sample_*.npz"))


def _indices(failed: dict[int, str]) -> str:
    numbers = sorted(failed)
    listed = ", ".join(map(str, numbers[:10])) + (", ..." if len(numbers) > 10 else "")
    return f"sample{'s' if len(numbers) > 1 else ''} {listed}"


def _make_and_write(recipe: dict, seed: int, index: int, out: Path) -> int:
    write_sample(sample_path(out, index), make_sample(recipe, seed, index))
    return index


def _remove_partial_writes(out: Path, todo: set[int]) -> None:
    """Delete the temporary files that a killed run left mid-write (see atomic_path) for
    the samples about to be made; other shards' files, perhaps still being written, stay."""
    for partial in (out / "samples").glob(".sample_*.npz"):
        index = partial.name.split(".")[1].removeprefix("sample_")
        if index.isdigit() and int(index) in todo:
            partial.unlink(missing_ok=True)


def _prepare(out: Path, recipe: dict, samples: int, seed: int) -> None:
    """Create OUT, or check that it holds the same generation (resume)."""
    settings = {"recipe": recipe, "seed": seed}
    record = out / "generation.json"
    if record.exists():
        previous = json.loads(record.read_text())
        if previous != json.loads(json.dumps(settings)):
            raise DatasetError(
                f"{out} holds a dataset of another recipe or seed; expected the same recipe "
                "and --seed to resume, or a new folder."
            )
    elif out.exists() and any(out.iterdir()):
        raise DatasetError(f"{out} exists and is not a dataset folder; expected a new folder.")
    (out / "samples").mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "recipe.yaml") as tmp:
        Path(tmp).write_text(yaml.safe_dump(recipe, sort_keys=False))
    with atomic_path(record) as tmp:
        Path(tmp).write_text(json.dumps(settings, indent=1, sort_keys=True))


def _report(done: int, total: int, seconds: float) -> None:
    width = 30
    filled = width * done // max(total, 1)
    rate = done / seconds if seconds > 0 else 0.0
    bar = "#" * filled + "." * (width - filled)
    print(f"\r[{bar}] {done}/{total} samples, {rate:.2f}/s", end="", file=sys.stderr, flush=True)
