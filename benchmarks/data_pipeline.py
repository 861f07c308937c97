"""The training data pipeline alone against the training step it feeds: batches per second
of the DataLoader (no network) with 0..W workers, with and without the hierarchies cached
beside the dataset, and the CPU training step rate of the config's network on the same
batches, in one process. The pipeline should deliver at least 20x the CPU step rate, so
that a GPU step of ~10 ms is not starved.

    python benchmarks/data_pipeline.py configs/small/poisson_holes.yaml --samples 200
    python benchmarks/data_pipeline.py configs/cylinder_flow.yaml --samples 8 --set steps=100

Generates the recipe's dataset if missing (data/RECIPE-pipe, resumable). Each pipeline row
is a fresh DataLoader over the training split: "cold" is the first pass over --batches
batches (samples read, hierarchies built or read from the cache, workers started), "warm"
the next --batches batches of the same workers (samples and graphs in their memory). The
step rate is forward, loss, backward and an Adam step, fp32, on warm batches.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import time
from pathlib import Path

import torch
import yaml
from _common import OUT, machine

from surrogate.data import graph_cache
from surrogate.data.generate import generate
from surrogate.data.recipes import load_recipe
from surrogate.training.data import MeshDataModule
from surrogate.training.module import SurrogateModule


def pipeline_rate(module: MeshDataModule, batches: int, workers: int) -> dict:
    """Batches per second of a fresh loader: the first `batches` (cold) and the next (warm)."""
    module.num_workers = workers
    loader = _endless(module.train_dataloader())
    rates = {}
    for label in ("cold", "warm"):
        started = time.perf_counter()
        for _ in itertools.islice(loader, batches):
            pass
        rates[label] = batches / (time.perf_counter() - started)
    del loader  # stops the workers
    return rates


def _endless(loader):
    """The loader's batches epoch after epoch (persistent workers stay)."""
    while True:
        yield from loader


def step_rate(module: MeshDataModule, model_options: dict, steps: int) -> float:
    """Training steps per second of the config's network on the loader's batches."""
    model = SurrogateModule(schema=module.schema, hierarchy=module.hierarchy, **model_options)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    module.num_workers = 0
    batches = list(itertools.islice(_endless(module.train_dataloader()), steps + 2))
    elapsed = 0.0
    for k, graph in enumerate(batches):
        started = time.perf_counter()
        loss = model.loss(graph, getattr(graph, "state", None))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if k >= 2:  # two warm-up steps
            elapsed += time.perf_counter() - started
    return steps / elapsed


def hierarchy_cost(h: float, options: dict) -> dict:
    """Seconds to build one plate's hierarchy and to read it back from the cache."""
    import tempfile

    from solvers import geometry
    from surrogate.data.graph_cache import read_hierarchy, write_hierarchy
    from surrogate.graph import mesh_edge_index
    from surrogate.pooling.hierarchy import build_hierarchy

    mesh = geometry.named("rectangle_with_holes", 0, h, max_nodes=10**7)
    started = time.perf_counter()
    hierarchy = build_hierarchy(mesh.points, mesh_edge_index(mesh), **options)
    built = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sample.npz"
        write_hierarchy(path, "x", hierarchy)
        started = time.perf_counter()
        read_hierarchy(path, "x")
        read = time.perf_counter() - started
    return {"nodes": mesh.num_nodes, "build_s": built, "read_s": read}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--set", action="append", default=[], help="recipe override")
    parser.add_argument("--data", type=Path, help="dataset folder (default data/RECIPE-pipe)")
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20, help="training steps timed")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--plates",
        type=float,
        nargs="*",
        default=[],
        metavar="H",
        help="also time building and reading one plate's hierarchy at these h",
    )
    args = parser.parse_args()
    config = yaml.safe_load(args.config.read_text())
    recipe = Path(config["data"]["folder"]).name
    folder = args.data or Path("data") / f"{recipe}-pipe"
    generate(load_recipe(recipe, args.set), folder, args.samples, workers=2, progress=False)
    data = {k: v for k, v in config["data"].items() if k not in ("folder", "num_workers")}
    module = MeshDataModule(str(folder), **data)
    module.setup("fit")
    graph_cache.MIN_CACHED_NODES = 0  # every mesh cached in the "filled" rows, to measure it
    rows = []
    for cached, workers in itertools.product((False, True), args.workers):
        shutil.rmtree(folder / "graphs", ignore_errors=True)
        if cached:  # filled by one pass beforehand, as by an earlier epoch or run
            pipeline_rate(module, len(module.train_set) // module.batch_size, 0)
        module.graph_cache = cached
        module.setup("fit")
        rows.append(
            {"cache": cached, "workers": workers, **pipeline_rate(module, args.batches, workers)}
        )
        print(rows[-1], flush=True)
    steps = step_rate(module, config["model"], args.steps)
    print(
        f"{args.config} on {folder} ({len(module.train_set)} training items, batch size "
        f"{module.batch_size}); {machine()}"
    )
    print(f"training step (fp32, forward + backward + Adam): {steps:.2f} steps/s")
    print("| hierarchy cache | workers | cold batches/s | warm batches/s | warm / step rate |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {'filled' if row['cache'] else 'none'} | {row['workers']} | {row['cold']:.1f} | "
            f"{row['warm']:.1f} | {row['warm'] / steps:.0f}x |"
        )
    for h in args.plates:
        cost = hierarchy_cost(h, module.hierarchy)
        rows.append(cost)
        print(
            f"plate of {cost['nodes']:,} nodes: hierarchy built in {cost['build_s']:.3f} s, "
            f"read from the cache in {cost['read_s']:.3f} s"
        )
    OUT.mkdir(parents=True, exist_ok=True)
    record = {"machine": machine(), "config": str(args.config), "steps_per_s": steps, "rows": rows}
    (OUT / f"data_pipeline-{recipe}.json").write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
