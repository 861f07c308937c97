"""CPU training settings side by side (issue 31): steps per second and the accuracy reached
after the same steps, for fp32 and bf16-mixed with and without deterministic algorithms,
each a `surrogate train` run of one config on one
dataset with the same seed, one after another in this process.

    python benchmarks/cpu_training.py configs/poisson_holes.yaml --samples 200 --steps 400
    python benchmarks/cpu_training.py configs/heat_holes.yaml --set h=0.06 --steps 400

Training time is Lightning's Timer's (trainer.max_time is set, far off) less the one
validation at the end; accuracy is the validation rollout's relative L2 error after the
last step (the configs' validation split and rollout length) and the mean training loss
of the last quarter of the steps. Writes runs/benchmarks/cpu_training-RECIPE.json.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import yaml
from _common import OUT, machine

from surrogate.data.generate import generate
from surrogate.data.recipes import load_recipe
from surrogate.model.checkpoint import read_checkpoint
from surrogate.training.cli import train

VARIANTS = {
    "fp32, deterministic (CPU default)": ["--trainer.deterministic", "true"],
    "fp32": ["--trainer.deterministic", "false"],
    "bf16-mixed": ["--trainer.deterministic", "false", "--trainer.precision", "bf16-mixed"],
    "bf16-mixed, deterministic": [
        "--trainer.deterministic",
        "true",
        "--trainer.precision",
        "bf16-mixed",
    ],
}


def run(config: Path, data: Path, root: Path, steps: int, extra: list[str]) -> dict:
    options = ["--config", str(config), "--data.folder", str(data), "--overwrite"]
    options += ["--trainer.default_root_dir", str(root), "--trainer.max_steps", str(steps)]
    options += ["--model.decay_steps", str(steps), "--trainer.val_check_interval", str(steps)]
    options += ["--trainer.max_time", "00:10:00:00", "--trainer.enable_progress_bar", "false"]
    options += ["--trainer.log_every_n_steps", str(max(steps // 40, 1))]
    options += ["--trainer.enable_model_summary", "false", *extra]
    train(options)
    timer = read_checkpoint(root / "checkpoints" / "last.ckpt")["callbacks"]["Timer"]
    elapsed = timer["time_elapsed"]
    seconds = elapsed["train"] - elapsed.get("validate", 0.0)
    with open(root / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    validation = [float(r["val/rollout_rel_l2"]) for r in rows if r.get("val/rollout_rel_l2")]
    tail = losses[-max(len(losses) // 4, 1) :]
    return {
        "steps_per_s": steps / seconds,
        "train_s": seconds,
        "final_val_rel_l2": validation[-1],
        "late_train_loss": sum(tail) / len(tail),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--set", action="append", default=[], help="recipe override")
    parser.add_argument("--data", type=Path, help="dataset folder (default data/RECIPE-cpu)")
    parser.add_argument("--variants", type=int, nargs="+", help="which (0-3; default all)")
    args = parser.parse_args()
    recipe = Path(yaml.safe_load(args.config.read_text())["data"]["folder"]).name
    data = args.data or Path("data") / f"{recipe}-cpu"
    generate(load_recipe(recipe, args.set), data, args.samples, workers=2, progress=False)
    results = {}
    for k, (label, extra) in enumerate(VARIANTS.items()):
        if args.variants is not None and k not in args.variants:
            continue
        results[label] = run(
            args.config, data, OUT / "cpu_training" / f"{recipe}-{k}", args.steps, extra
        )
        print(label, results[label], flush=True)
    base = next(iter(results.values()))
    print(f"\n{args.config} on {data}, {args.steps} steps each; {machine()}")
    print("| setting | steps/s | speed-up | val rollout rel. L2 | vs first row | late train loss |")
    print("|---|---|---|---|---|---|")
    for label, row in results.items():
        speed = row["steps_per_s"] / base["steps_per_s"]
        error = row["final_val_rel_l2"] / base["final_val_rel_l2"] - 1
        print(
            f"| {label} | {row['steps_per_s']:.2f} | {speed:.2f}x | {row['final_val_rel_l2']:.2%} "
            f"| {error:+.1%} | {row['late_train_loss']:.4f} |"
        )
    OUT.mkdir(parents=True, exist_ok=True)
    record = {
        "machine": machine(),
        "config": str(args.config),
        "steps": args.steps,
        "results": results,
    }
    chosen = "" if args.variants is None else "-" + "".join(map(str, args.variants))
    (OUT / f"cpu_training-{recipe}{chosen}.json").write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
