"""Dataset generation speed: samples per second of every bundled recipe.

Each recipe generates a few samples into a fresh folder under runs/benchmarks/ with the
given number of worker processes (default 2, this machine's cores); prints a Markdown
table and writes JSON.

    python benchmarks/generation.py [--workers 2] [--recipes poisson_holes ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time

from _common import OUT, machine

from surrogate.data.generate import generate
from surrogate.data.recipes import load_recipe, recipe_names

SAMPLES = {"cylinder_flow": 2, "poisson_box_holes": 10}  # others: 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--recipes", nargs="+", default=recipe_names(), choices=recipe_names())
    args = parser.parse_args()
    print(f"Machine: {machine()}, {args.workers} workers")
    print("| recipe | samples | mean nodes | steps | seconds | samples/s | MB per sample |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for name in args.recipes:
        folder = OUT / f"generation-{name}"
        shutil.rmtree(folder, ignore_errors=True)
        count = SAMPLES.get(name, 20)
        started = time.perf_counter()
        manifest = generate(load_recipe(name), folder, count, args.workers, progress=False)
        seconds = time.perf_counter() - started
        size = sum((folder / e["file"]).stat().st_size for e in manifest["samples"]) / count
        row = {
            "recipe": name,
            "samples": count,
            "seconds": seconds,
            "samples_per_second": count / seconds,
            "mean_nodes": manifest["mesh_nodes"]["mean"],
            "steps": manifest["samples"][0]["steps"],
            "mb_per_sample": size / 1e6,
        }
        rows.append(row)
        print(
            f"| {name} | {count} | {row['mean_nodes']:.0f} | {row['steps'] or '-'} | "
            f"{seconds:.1f} | {row['samples_per_second']:.3g} | {row['mb_per_sample']:.2f} |",
            flush=True,
        )
    (OUT / "generation.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
