"""Accuracy after a fixed training time: configs trained side by side on one dataset and
evaluated on its held-out test geometries.

Generates the recipe's dataset if missing (data/RECIPE, resumable), trains every config
for --minutes of wall time (runs/benchmarks/accuracy/NAME, NAME the config's path under
configs/ with - for /, e.g. small-poisson_holes), evaluates best.ckpt on the test
split with surrogate.evaluate, as `surrogate evaluate` does (mean and worst relative L2
after --steps rollout steps, steady models predicting once; with --rmse-after, also
MeshGraphNets' rollout RMSE over the first H steps), prints a Markdown table with the
training time, steps and hardware, and writes
runs/benchmarks/accuracy-NAME.json (NAME of the first config).

    python benchmarks/training_accuracy.py configs/poisson_holes.yaml \\
        configs/baselines/meshgraphnet_poisson_holes.yaml --samples 400 --minutes 15
    python benchmarks/training_accuracy.py configs/heat_holes.yaml --set h=0.06 \\
        --samples 200 --minutes 40 --option model.network.latent=64
    python benchmarks/training_accuracy.py configs/cylinder_flow.yaml --samples 30 \\
        --minutes 45 --steps 600 --rmse-after 1 50 600
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch
import yaml
from _common import OUT, machine, training_options

from surrogate.data.generate import generate
from surrogate.data.recipes import load_recipe
from surrogate.evaluate import evaluate_checkpoint
from surrogate.model.checkpoint import load_surrogate
from surrogate.training.cli import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+", type=Path)
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--steps", type=int, default=50, help="rollout steps (transient)")
    parser.add_argument(
        "--rmse-after",
        type=int,
        nargs="*",
        default=[],
        metavar="H",
        help="also MeshGraphNets' rollout RMSE after H steps",
    )
    parser.add_argument("--set", action="append", default=[], help="recipe override")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (other geometries)")
    parser.add_argument(
        "--data",
        type=Path,
        help="dataset folder instead of the configs' "
        "data.folder (keeps datasets made with --set apart)",
    )
    parser.add_argument("--validate-every", type=int, default=200, help="training steps")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="training override for every config, e.g. model.lr=5e-4",
    )
    args = parser.parse_args()
    hardware = machine() + (
        f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", CPU only"
    )
    rows = []
    for config in args.configs:
        settings = yaml.safe_load(config.read_text())
        recipe = load_recipe(Path(settings["data"]["folder"]).name, args.set)
        folder = args.data or Path(settings["data"]["folder"])
        generate(recipe, folder, args.samples, workers=2, seed=args.seed, progress=False)
        run = OUT / "accuracy" / _name(config)
        shutil.rmtree(run, ignore_errors=True)  # a previous run's best.ckpt must not count
        minutes = int(args.minutes), round(args.minutes % 1 * 60)
        started = time.perf_counter()
        train(
            [
                "--config",
                str(config),
                "--trainer.default_root_dir",
                str(run),
                "--trainer.max_time",
                f"00:00:{minutes[0]:02d}:{minutes[1]:02d}",
                "--trainer.val_check_interval",
                str(args.validate_every),
                "--trainer.enable_progress_bar",
                "false",
                "--data.folder",
                str(folder),
                *training_options(args.option),
            ]
        )
        seconds = time.perf_counter() - started
        best = run / "checkpoints" / "best.ckpt"
        if not best.exists():
            raise SystemExit(
                f"{config}: no validation ran within {args.minutes} minutes, so "
                "there is no best.ckpt; lower --validate-every."
            )
        last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
        horizons = sorted({args.steps, *args.rmse_after})
        measured = evaluate_checkpoint(best, folder, "test", tuple(horizons))
        parameters = sum(p.numel() for p in load_surrogate(best).network.parameters())
        errors = {
            name: (by_h[args.steps]["mean"], by_h[args.steps]["worst"])
            for name, by_h in measured.relative_l2.items()
        }
        rmse = {
            name: {h: by_h[h] for h in args.rmse_after}
            for name, by_h in measured.rmse.items()
            if args.rmse_after
        }
        rows.append(
            {
                "config": str(config),
                "network": settings["model"]["network"]["name"],
                "parameters": parameters,
                "train_s": seconds,
                "steps": last["global_step"],
                "samples": args.samples,
                "test_samples": len(measured.samples),
                "errors": errors,
                "rmse": rmse,
                "recipe_overrides": args.set,
                "options": args.option,
                "rollout_steps": args.steps,
            }
        )
    print(f"Machine: {hardware}")
    print(
        "| config | network | parameters | training | steps | test relative L2 (mean / max) "
        "| rollout RMSE after H steps |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        errors = ", ".join(f"{n} {m:.2%} / {x:.2%}" for n, (m, x) in r["errors"].items())
        rmse = ", ".join(
            f"{n} " + " / ".join(f"{h}: {v:.3e}" for h, v in by_h.items())
            for n, by_h in r["rmse"].items()
        )
        print(
            f"| {r['config']} | {r['network']} | {r['parameters'] / 1e6:.2f}M | "
            f"{r['train_s'] / 60:.1f} min | {r['steps']} | {errors} "
            f"| {rmse or '-'} |"
        )
    result = OUT / f"accuracy-{_name(args.configs[0])}.json"
    result.write_text(json.dumps({"machine": hardware, "rows": rows}, indent=1))


def _name(config: Path) -> str:
    """configs/small/poisson_holes.yaml -> small-poisson_holes: configs of one name in
    different folders keep their runs and results apart."""
    parts = config.with_suffix("").parts
    return "-".join(parts[parts.index("configs") + 1 :]) if "configs" in parts else config.stem


if __name__ == "__main__":
    main()
