"""`surrogate evaluate`: the accuracy of a trained model on a dataset's held-out
geometries, printed as a table and optionally written as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from solvers.atomic import atomic_path
from surrogate import values
from surrogate.commands import add_device_options


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="measure a trained surrogate on a dataset's held-out geometries",
        description="Roll a checkpoint out on the samples of a dataset that its training run "
        "held out (the same geometry split: --split test by default) and print, per field, "
        "the mean, median and worst relative L2 error and MeshGraphNets' rollout RMSE after "
        "each of --steps, with the compute it took.",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        required=True,
        help="a .ckpt from surrogate train; repeat for an ensemble",
    )
    p.add_argument("--data", type=Path, required=True, help="a dataset folder")
    p.add_argument(
        "--split",
        choices=("test", "validation", "train", "all"),
        default="test",
        help="which geometries (default test)",
    )
    p.add_argument(
        "--steps",
        type=values.STEPS.flag("--steps"),
        nargs="+",
        default=[1, 10, 50],
        metavar="N",
        help="rollout steps to measure after (default 1 10 50; steady: 1)",
    )
    add_device_options(p)
    p.add_argument(
        "--out",
        type=Path,
        help="also write the figures to this JSON file, and the indicators' calibration "
        "picture beside it (STEM_calibration.png)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from surrogate.evaluate import evaluate_checkpoint

    evaluation = evaluate_checkpoint(
        args.checkpoint, args.data, args.split, tuple(args.steps), args.device, args.precision
    )
    compute = evaluation.compute
    model = ", ".join(map(str, args.checkpoint))
    print(f"{model} on {args.data} ({args.split}: {len(evaluation.samples)} samples)")
    print(evaluation.table())
    for line in evaluation.calibration_lines():
        print(line)
    trained = compute["training_s"]
    print(
        f"training steps: {compute['training_steps']}"
        + (f", training time: {trained / 60:.1f} min" if trained else "")
        + f"; evaluation: {compute['evaluation_s']:.1f} s on {compute['device']}, "
        f"precision {compute['precision']}"
    )
    if args.out:
        from surrogate.calibration import calibration_picture

        with atomic_path(args.out) as tmp:
            Path(tmp).write_text(json.dumps(evaluation.to_dict(), indent=1))
        picture = args.out.with_name(f"{args.out.stem}_calibration.png")
        calibration_picture(evaluation.pairs, picture)
        print(f"wrote {args.out}" + (f" and {picture}" if evaluation.pairs else ""))
