"""`surrogate generate`: make a dataset from a recipe (parallel, resumable, shardable)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from solvers.errors import ProblemError
from surrogate import values
from surrogate.commands import add_node_budget
from surrogate.data.generate import generate
from surrogate.data.recipes import load_recipe, recipe_names


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "generate",
        help="generate a dataset from a recipe",
        description="Run the reference solver over a recipe's family of problems, one .npz "
        "file per sample plus manifest.json. Run it again on the same folder to resume: only "
        f"missing samples are computed. Bundled recipes: {', '.join(recipe_names())}.",
    )
    p.add_argument("recipe", help="bundled recipe name or path to a recipe YAML file")
    p.add_argument("--out", type=Path, required=True, help="dataset folder")
    p.add_argument(
        "--samples", type=values.SAMPLES.flag("--samples"), required=True, help="number of samples"
    )
    p.add_argument(
        "--workers",
        type=values.WORKERS.flag("--workers"),
        default=1,
        help="parallel processes (default 1)",
    )
    p.add_argument(
        "--shard",
        default="0/1",
        metavar="I/N",
        help="make only samples with index %% N == I (job arrays)",
    )
    p.add_argument(
        "--seed", type=values.SEED.flag("--seed"), default=0, help="dataset seed (default 0)"
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe parameter, e.g. --set steps=10",
    )
    add_node_budget(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    if args.samples < 1 or args.workers < 1:
        raise ProblemError(
            f"--samples {args.samples} and --workers {args.workers}; expected positive numbers."
        )
    recipe = load_recipe(args.recipe, args.overrides, args.max_nodes)
    started = time.perf_counter()
    manifest = generate(recipe, args.out, args.samples, args.workers, _shard(args.shard), args.seed)
    seconds = time.perf_counter() - started
    done = len(manifest["samples"])
    state = "complete" if manifest["complete"] else "this shard done"
    print(f"{args.out}: {done}/{args.samples} samples ({state}) in {seconds:.1f} s")


def _shard(text: str) -> tuple[int, int]:
    index, sep, count = text.partition("/")
    try:
        shard = int(index), int(count)
    except ValueError:
        shard = (-1, 0)
    if not sep or not 0 <= shard[0] < shard[1]:
        raise ProblemError(f"--shard {text}; expected I/N with 0 <= I < N, e.g. 0/4.")
    return shard
