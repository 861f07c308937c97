"""Calibration of the trust indicators, and an ensemble against one model at equal total
training compute (issue 32).

Generates the recipe's dataset if missing (resumable), trains one model for --train-steps
optimiser steps and K members (seeds 0..K-1) for --train-steps / K each (equal compute:
steps of one config cost the same; counted in steps rather than minutes so that other load
on the machine cannot tilt the comparison; the wall times are printed), then evaluates
both on the held-out test geometries (the configs' own split): the mean and worst relative
L2 error, and Spearman's rank correlation between each indicator (the ensemble's spread,
the physics residual, the error estimated from it) and the true error over every
(geometry, step) pair. Prints a Markdown table and writes
runs/benchmarks/calibration-NAME.json, -NAME.png (the ensemble's calibration picture) and
-NAME-single.png (the single model's). --reuse evaluates the runs trained before.

    python benchmarks/calibration.py configs/small/heat_holes.yaml --set h=0.06 \\
        --samples 200 --train-steps 3000 --members 3 --steps 50
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import yaml
from _common import OUT, machine, training_options

from surrogate.calibration import calibration_picture
from surrogate.data.generate import generate
from surrogate.data.recipes import load_recipe
from surrogate.evaluate import evaluate_checkpoint
from surrogate.training.cli import train

INDICATORS = ("spread", "residual", "estimate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--train-steps", type=int, default=3000, help="total optimiser steps")
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--steps", type=int, default=50, help="rollout steps (transient)")
    parser.add_argument("--set", action="append", default=[], help="recipe override")
    parser.add_argument("--data", type=Path, help="dataset folder (default data/RECIPE-cal)")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="training override, e.g. model.network.latent=64",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="evaluate the runs already trained (no training)"
    )
    parser.add_argument("--train-only", action="store_true", help="train, do not evaluate")
    args = parser.parse_args()
    config = yaml.safe_load(args.config.read_text())
    recipe_name = Path(config["data"]["folder"]).name
    data = args.data or Path("data") / f"{recipe_name}-cal"
    started = time.perf_counter()
    generate(load_recipe(recipe_name, args.set), data, args.samples, workers=2, progress=False)
    generated = time.perf_counter() - started
    name = str(args.config.with_suffix("")).removeprefix("configs/").replace("/", "-")
    runs = OUT / "calibration" / name
    seconds = {}
    started = time.perf_counter()
    single = _train(args, data, runs / "single", args.train_steps, 0)
    seconds["single"] = time.perf_counter() - started
    started = time.perf_counter()
    members = [
        _train(args, data, runs / f"member_{k}", args.train_steps // args.members, k)
        for k in range(args.members)
    ]
    seconds["ensemble"] = time.perf_counter() - started
    if args.train_only:
        print(f"trained: {seconds['single']:.0f} s one model, {seconds['ensemble']:.0f} s members")
        return
    steps = (1, 10, args.steps)
    alone = evaluate_checkpoint(single, data, "test", steps)
    ensemble = evaluate_checkpoint(members, data, "test", steps)
    picture = OUT / f"calibration-{name}.png"
    calibration_picture(ensemble.pairs, picture)
    calibration_picture(alone.pairs, OUT / f"calibration-{name}-single.png")
    print(_table(args, alone, ensemble, generated, len(alone.samples), seconds))
    record = {"machine": machine(), "arguments": {k: str(v) for k, v in vars(args).items()}}
    record |= {"single": alone.to_dict(), "ensemble": ensemble.to_dict(), "training_s": seconds}
    (OUT / f"calibration-{name}.json").write_text(json.dumps(record, indent=1))
    print(f"wrote {OUT / f'calibration-{name}.json'} and {picture}")


def _train(args, data: Path, root: Path, steps: int, seed: int) -> Path:
    best = root / "checkpoints" / "best.ckpt"
    if args.reuse:
        return best
    options = ["--config", str(args.config), *training_options(args.option)]
    options += ["--data.folder", str(data), "--overwrite"]
    options += ["--trainer.default_root_dir", str(root), "--seed_everything", str(seed)]
    options += ["--trainer.max_steps", str(steps), "--model.decay_steps", str(steps)]
    options += ["--trainer.val_check_interval", str(max(steps // 4, 1))]
    options += ["--trainer.enable_progress_bar", "false"]
    train(options)
    return best


def _table(args, alone, ensemble, generated: float, geometries: int, seconds: dict) -> str:
    took = (
        "trained earlier (--reuse)"
        if args.reuse
        else f"{seconds['single'] / 60:.1f} min for one model, {seconds['ensemble'] / 60:.1f} "
        f"min for {args.members} members"
    )
    lines = [
        f"{args.config}, {args.samples} samples ({geometries} test geometries), "
        f"{args.train_steps} training steps each way ({took}), on {machine()}; dataset "
        f"{generated:.0f} s",
        "",
        "| model | field | steps | relative L2 mean | worst | spread rho | residual rho "
        "| estimate rho |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, evaluation in [("1 model", alone), (f"{args.members} members", ensemble)]:
        for name, by_step in evaluation.relative_l2.items():
            rho = evaluation.calibration.get(name, {})
            shown = {k: "n/a" if rho.get(k) is None else f"{rho[k]:.2f}" for k in INDICATORS}
            for h, errors in by_step.items():
                lines.append(
                    f"| {label} | {name} | {h} | {errors['mean']:.2%} | {errors['worst']:.2%} "
                    f"| {' | '.join(shown.values())} |"
                )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
