"""The prepared run for a lent GPU machine (issue 31): train on the GPU in bf16 for a given
number of minutes, evaluate on the held-out geometries, time the data pipeline and the
cylinder-channel rollout against the solver, and write results.json and loss.png.

Here, where gmsh and the package registry are (once per bundle, a few minutes):

    python benchmarks/device_run.py prepare .device          # dataset, meshes, wheels

There (the lent machine: one H200, 16 cores, no network, no gmsh or pyvista), through the
device tool with carry [".device"], within about 9 minutes:

    bash benchmarks/device_run.sh .device $OUT 4              # 4 minutes of training

The bundle holds a generated dataset (the lent image cannot mesh: no gmsh), the cylinder
channels of benchmarks/surrogate_vs_solver.py as sample files, and the wheels of the
packages the lent image lacks (WHEELS); all of it must travel within the device tool's
64 MiB with the repository. `run ... --dry-run` does the same on the CPU with tiny sizes
in under a minute (tests/test_device_run.py runs it with gmsh and pyvista hidden).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project, not installed there

import torch  # noqa: E402
import yaml  # noqa: E402
from _common import machine  # noqa: E402

from solvers.atomic import atomic_path  # noqa: E402

# What the lent image lacks (KINDS.md), pinned to what this project is tested with; gmsh
# (no wheel for the image, system libraries missing) and pyvista/vtk (over 100 MB) stay
# behind: the bundle carries meshes, and pictures are skipped there.
WHEELS = [
    "meshio==5.3.5",
    "jsonargparse==4.53.0",
    "docstring_parser==0.18.0",
    "typeshed_client==2.15.0",
    "pyamg==5.4.1",
    "pymetis==2025.2.2",
    "netCDF4==1.7.5.1.post1",
    "cftime==1.6.6.1",
]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64"]
PLATFORMS += ["manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64"]
TRAVEL_LIMIT = 64 << 20  # bytes the device tool carries, repository included
RECIPE, SAMPLES = "heat_holes", 100
CONFIG = ROOT / "configs" / "heat_holes.yaml"


def prepare(bundle: Path, samples: int, overrides: list[str], sizes, wheels: bool) -> None:
    from surrogate_vs_solver import channel

    from surrogate.data.generate import generate
    from surrogate.data.recipes import load_recipe

    generate(load_recipe(RECIPE, overrides), bundle / "data" / RECIPE, samples, workers=2)
    for size in sizes:
        channel(size, bundle / "meshes")
    if wheels:
        download = [sys.executable, "-m", "pip", "download", "-q", "--no-deps"]
        download += ["--only-binary=:all:", "--python-version", "3.12", "--implementation"]
        download += ["cp", "-d", str(bundle / "wheels"), *WHEELS]
        download += [f"--platform={platform}" for platform in PLATFORMS]
        subprocess.run(download, check=True)
    size = _bytes(bundle) + _bytes_tracked()
    print(f"{bundle}: {_bytes(bundle) / 2**20:.1f} MiB; with the repository {size / 2**20:.1f}")
    if size > TRAVEL_LIMIT:
        raise SystemExit(f"over the {TRAVEL_LIMIT >> 20} MiB that travel: use fewer samples.")


def run(bundle: Path, out: Path, minutes: int, dry: bool) -> dict:
    """Every stage in turn; a stage that fails is recorded and the next still runs.
    results.json is rewritten after each stage, so a run cut short keeps what it did."""
    out.mkdir(parents=True, exist_ok=True)
    results = {"environment": environment(), "dry_run": dry}
    data = bundle / "data" / RECIPE
    work = Path(os.environ.get("TMPDIR", "/tmp")) / "device_run"
    stages = [
        ("data_pipeline", lambda: pipeline(data, dry)),
        ("training", lambda: training(data, work, out, minutes, dry)),
        ("evaluation", lambda: evaluation(work, data, dry)),
        ("surrogate_vs_solver", lambda: surrogate_vs_solver(bundle, dry)),
    ]
    for name, stage in stages:
        started = time.perf_counter()
        try:
            results[name] = stage()
        except Exception as error:  # one stage's failure must not lose the others
            results[name] = {"failed": f"{type(error).__name__}: {error}"}
            traceback.print_exc()
        results[name]["wall_s"] = round(time.perf_counter() - started, 1)
        print(f"{name}: {json.dumps(results[name])[:400]}", flush=True)
        with atomic_path(out / "results.json") as tmp:
            Path(tmp).write_text(json.dumps(results, indent=1))
    return results


def environment() -> dict:
    gpu = torch.cuda.is_available()
    return {
        "machine": machine(),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if gpu else None,
        "missing": [name for name in ("gmsh", "pyvista") if not _importable(name)],
    }


def pipeline(data: Path, dry: bool) -> dict:
    """Batches per second of the training loader in the training process (the default)
    and with worker processes."""
    from data_pipeline import pipeline_rate

    from surrogate.training.data import MeshDataModule

    module = MeshDataModule(str(data), batch_size=4)
    batches = 5 if dry else 200
    rates = {}
    cores = len(os.sched_getaffinity(0))
    for workers in (0, 1) if dry else (0, min(4, cores // 2), min(8, cores // 2)):
        module.setup("fit")
        rates[f"workers_{workers}"] = pipeline_rate(module, batches, workers)
    return rates


def training(data: Path, work: Path, out: Path, minutes: int, dry: bool) -> dict:
    """configs/heat_holes.yaml on the GPU (bf16-mixed, the CLI's choice there) for the given
    minutes, the learning rate decayed over that time."""
    from surrogate.model.checkpoint import read_checkpoint
    from surrogate.training.cli import train

    shutil.rmtree(work, ignore_errors=True)
    options = ["--config", str(CONFIG), "--data.folder", str(data)]
    options += ["--trainer.default_root_dir", str(work), "--trainer.enable_progress_bar", "false"]
    if dry:
        options += ["--trainer.max_steps", "3", "--trainer.val_check_interval", "3"]
        options += ["--model.network.latent", "8", "--model.rollout_steps", "2"]
        options += ["--data.validation_samples", "1"]
    else:
        options += ["--trainer.max_steps", "-1", "--model.decay_over_time", "true"]
        options += ["--trainer.max_time", f"00:00:{int(minutes):02d}:00"]
        options += ["--trainer.val_check_interval", "500"]
    started = time.perf_counter()
    steps = train(options)
    seconds = time.perf_counter() - started
    if (work / "loss.png").exists():
        shutil.copy(work / "loss.png", out / "loss.png")
    best = read_checkpoint(work / "checkpoints" / "best.ckpt")
    config = yaml.safe_load((work / "config.yaml").read_text())  # as the CLI completed it
    monitor = [c for k, c in best.get("callbacks", {}).items() if k.startswith("ModelCheckpoint")]
    score = monitor[0].get("best_model_score") if monitor else None
    return {
        "steps": steps,
        "seconds": round(seconds, 1),
        "steps_per_s": round(steps / seconds, 2),
        "best_validation_rollout_rel_l2": None if score is None else float(score),
        "trainer": {k: config["trainer"][k] for k in ("accelerator", "precision", "max_time")},
        "num_workers": config["data"]["num_workers"],
    }


def evaluation(work: Path, data: Path, dry: bool) -> dict:
    from surrogate.evaluate import evaluate_checkpoint

    steps = (1, 2) if dry else (1, 10, 50)
    result = evaluate_checkpoint(work / "checkpoints" / "best.ckpt", data, "test", steps)
    return {"relative_l2": result.relative_l2, "compute": result.compute}


def surrogate_vs_solver(bundle: Path, dry: bool) -> dict:
    """The cylinder_flow U-Net on the GPU (fp32 and bf16) against the solver on this
    machine's CPU; 20k vertices after a shorter start-up (time on the lent machine)."""
    import surrogate_vs_solver as benchmark

    device = "auto"
    rows = []
    runs = [("2k", 2, "0.02")] if dry else [("2k", 50, "0.5"), ("20k", 5, "0.05")]
    for size, steps, start in runs:
        options = ["--sizes", size, "--steps", str(steps), "--record-from", start]
        options += ["--device", device, "--meshes", str(bundle / "meshes")]
        options += ["--json", str(bundle / "surrogate_vs_solver.json")]
        options += ["--repeats", "1" if dry else "3"]
        rows += benchmark.main(options)
    return {"rows": rows}


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except (ImportError, OSError):
        return False
    return True


def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _bytes_tracked() -> int:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    return sum((ROOT / name).stat().st_size for name in listed.stdout.split() if name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    making = commands.add_parser("prepare", help="here: dataset, channel meshes, wheels")
    making.add_argument("bundle", type=Path)
    making.add_argument("--samples", type=int, default=SAMPLES)
    making.add_argument("--set", action="append", default=[], help="recipe override")
    making.add_argument("--sizes", nargs="+", default=["2k", "20k"])
    making.add_argument("--no-wheels", action="store_true")
    running = commands.add_parser("run", help="there: train, evaluate, time")
    running.add_argument("bundle", type=Path)
    running.add_argument("out", type=Path)
    running.add_argument("--minutes", type=int, default=4)
    running.add_argument("--dry-run", action="store_true", help="tiny sizes, on the CPU")
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.bundle, args.samples, args.set, args.sizes, not args.no_wheels)
    else:
        results = run(args.bundle, args.out, args.minutes, args.dry_run)
        failed = [
            k for k, stage in results.items() if isinstance(stage, dict) and "failed" in stage
        ]
        raise SystemExit(f"stages failed: {', '.join(failed)}" if failed else 0)


if __name__ == "__main__":
    main()
