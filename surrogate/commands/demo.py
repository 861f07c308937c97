"""`surrogate demo`: the whole job on the embedded default, heat on plates with holes:
generate a small dataset, train a U-Net, roll it out on a geometry it never saw, export
.pvd/.vtu/PNG/GIF and print the error against the solver with the timings."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from surrogate import values

UNSEEN_SEED = 20261121  # a geometry seed the dataset's generator does not draw
ROLLOUT_STEPS = 50


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="generate, train, roll out on a new mesh and export, on a small heat problem",
        description="The main job end to end on heat_holes: a small dataset, a short U-Net "
        "training (--minutes, less on a GPU), a rollout with the solver beside it on a "
        "plate the model never saw, ParaView files and pictures in OUT/rollout.",
    )
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="default runs/demo")
    p.add_argument(
        "--samples",
        type=values.SAMPLES.flag("--samples"),
        default=40,
        help="training trajectories (40)",
    )
    p.add_argument(
        "--minutes",
        type=values.MINUTES.flag("--minutes"),
        default=5.0,
        help="training time limit (5)",
    )
    p.add_argument(
        "--max-steps",
        type=values.STEPS.flag("--max-steps"),
        default=4000,
        help="training step limit (4000)",
    )
    p.add_argument(
        "--workers",
        type=values.WORKERS.flag("--workers"),
        default=2,
        help="generation processes (2)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from solvers.atomic import removed_on_failure
    from surrogate.data.generate import has_samples

    # A demo that fails leaves no new folder behind, unless samples were made: then the
    # next demo resumes generating where this one stopped.
    with removed_on_failure(args.out, keep=lambda: has_samples(args.out / "data")):
        _demo(args)


def _demo(args: argparse.Namespace) -> None:
    from solvers import geometry
    from surrogate import physics
    from surrogate.data.generate import generate
    from surrogate.data.recipes import load_recipe
    from surrogate.model.checkpoint import load_surrogate
    from surrogate.predict import rollout_to_folder
    from surrogate.training.cli import CONFIGS, train

    timings = {}
    started = time.perf_counter()
    recipe = load_recipe("heat_holes", ["h=0.06"])
    generate(recipe, args.out / "data", args.samples, workers=args.workers, progress=True)
    timings["generate"] = time.perf_counter() - started

    started = time.perf_counter()
    minutes = int(args.minutes), round(args.minutes % 1 * 60)
    steps = train(
        [
            "--config",
            str(CONFIGS / "heat_holes.yaml"),
            "--data.folder",
            str(args.out / "data"),
            "--trainer.default_root_dir",
            str(args.out / "train"),
            "--overwrite",  # a demo run again replaces the last one
            "--trainer.max_steps",
            str(args.max_steps),
            "--trainer.max_time",
            f"00:00:{minutes[0]:02d}:{minutes[1]:02d}",
            "--trainer.val_check_interval",
            "250",
            "--model.decay_steps",
            str(args.max_steps),
            "--model.network.latent",
            "64",
            "--model.network.blocks",
            "[1, 1, 2, 2]",
            "--data.validation_samples",
            "2",
            "--model.rollout_steps",
            "20",
        ]
    )
    timings["train"] = time.perf_counter() - started

    model = load_surrogate(args.out / "train" / "checkpoints" / "best.ckpt")
    mesh = geometry.rectangle_with_holes(seed=UNSEEN_SEED, h=0.06)
    held = {"hole_0": "1.0", "hole_1": "0.2", "hole_2": "0.6"}
    setup = physics.pose(model.schema, mesh, dirichlet=held, inputs={})
    result = rollout_to_folder(
        model, mesh, setup, ROLLOUT_STEPS, args.out / "rollout", reference=True, overwrite=True
    )
    print(mesh)
    print(f"wrote {result.folder / 'rollout.pvd'}")
    print(_table(result.metrics, timings, _steps(steps, args.max_steps)))


def _table(metrics: dict, timings: dict, steps: str) -> str:
    errors, seconds = metrics["fields"]["u"]["relative_l2"], metrics["timings"]
    rows = [
        ("dataset generation", f"{timings['generate']:.1f} s"),
        ("training", f"{timings['train']:.1f} s"),
        ("training steps", steps),
        (f"surrogate rollout, {ROLLOUT_STEPS} steps", f"{seconds['surrogate_s']:.2f} s"),
        (f"solver, {ROLLOUT_STEPS} steps", f"{seconds['solver_s']:.2f} s"),
    ]
    rows += [
        (f"relative L2 error after {k} steps", f"{errors[k - 1]:.2%}")
        for k in (1, 10, ROLLOUT_STEPS)
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _steps(reached: int, limit: int) -> str:
    # Training usually stops at the time limit: on a busy or slow machine that means fewer
    # steps and a larger error, which the table should show rather than leave to be guessed.
    if reached >= limit:
        return f"{reached:,}"
    return f"{reached:,} of {limit:,} (stopped by the time limit)"
