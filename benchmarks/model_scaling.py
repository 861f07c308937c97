"""Network scaling: forward and forward+backward time and peak memory against mesh size for
the multigrid U-Net and its baselines, side by side in one run, plus hierarchy build time.

Meshes: gmsh unit squares of about 10k, 100k and 1M nodes (cached in runs/benchmarks/).
Models at latent 128: the U-Net (blocks [1, 2, 2, 4], hard assignment), the same with
activation checkpointing (`unet-checkpoint`: the encoders', blocks', lifts' and decoder's
activations are recomputed in the backward pass instead of kept), the flat MeshGraphNet
(15 blocks; within 5% of the U-Net's parameter count), PyG GraphUNet (TopK) and a dense
DiffPool U-Net. Each (model, mesh, mode) runs in a fresh process, so peak resident memory
is its own. CPU, fp32, all cores torch uses by default. With --rounds R the whole list runs
R times, interleaved, and each row reports the median over the rounds (a shared machine's
speed drifts between processes); the two target ratios, and what checkpointing saves and
costs, follow the table.

    python benchmarks/model_scaling.py [--sizes 10k 100k 1M] [--models unet mgn topk diffpool]
    python benchmarks/model_scaling.py --sizes 10k 100k --models unet unet-checkpoint \
        --modes train --rounds 2
    python benchmarks/model_scaling.py --sizes 10k 100k --models unet mgn --modes forward \
        --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
from _common import OUT, machine, peak_gb, run_child

SIZES = {"10k": 0.0107, "100k": 0.0034, "1M": 0.00107}
MODELS = ("unet", "unet-checkpoint", "mgn", "topk", "diffpool")
REPEATS = {"10k": 3, "100k": 2, "1M": 1}
# Not run on a 24 GB machine, with the reason (memory measured at 10k grows linearly).
SKIP = {
    ("diffpool", "100k", "forward"): "dense N x N adjacency alone is 40 GB (fp32)",
    ("diffpool", "100k", "train"): "dense N x N adjacency alone is 40 GB (fp32)",
    ("diffpool", "1M", "forward"): "dense N x N adjacency alone is 4 TB (fp32)",
    ("mgn", "100k", "train"): "about 45 GB of activations (4.5 GB measured at 10k)",
}
IN_DIM, OUT_DIM, LATENT = 4, 2, 128


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument(
        "--modes", nargs="+", default=["forward", "train"], choices=["forward", "train"]
    )
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--rounds", type=int, default=1, help="interleaved repeats")
    parser.add_argument(
        "--child", nargs=3, metavar=("MODEL", "SIZE", "MODE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child)))
        return
    cases = [
        (model, size, mode) for size in args.sizes for model in args.models for mode in args.modes
    ]
    rounds: dict[tuple, list[dict]] = {case: [] for case in cases}
    for _ in range(args.rounds):
        for case in cases:
            rounds[case].append(_case(case, args.timeout))
            print(_row(rounds[case][-1]), flush=True)
    rows = [_median(records) for records in rounds.values()]
    print(f"\nMachine: {machine()}, median of {args.rounds} round(s)\n\n{HEAD}")
    print("\n".join(_row(r) for r in rows) + "\n\n" + _ratios(rows))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "model_scaling.json").write_text(
        json.dumps({"machine": machine(), "rounds": args.rounds, "rows": rows}, indent=1)
    )


def _case(case: tuple[str, str, str], timeout: float) -> dict:
    model, size, mode = case
    record = {"model": model, "size": size, "mode": mode}
    if mode == "train" and size == "1M":
        return record | {"failed": "not run: fp32 activations for backward exceed 24 GB"}
    if case in SKIP:
        return record | {"failed": f"not run: {SKIP[case]}"}
    return run_child(__file__, list(case), timeout, record)


def _median(records: list[dict]) -> dict:
    done = [r for r in records if "failed" not in r]
    if not done:
        return records[0]
    row = dict(done[0])
    for key in ("hierarchy_s", "time_s", "us_per_node"):
        row[key] = statistics.median(r[key] for r in done)
    row["peak_gb"] = max(r["peak_gb"] for r in done)
    return row


def _ratios(rows: list[dict]) -> str:
    """The targets' figures: U-Net / MeshGraphNet forward time per mesh, and the growth of
    the U-Net's forward time per node from the smallest mesh to each larger one."""
    forward = {
        (r["model"], r["size"]): r for r in rows if r["mode"] == "forward" and "failed" not in r
    }
    sizes = [s for s in SIZES if ("unet", s) in forward]
    lines = [
        f"U-Net / MeshGraphNet forward at {s}: "
        f"{forward['unet', s]['time_s'] / forward['mgn', s]['time_s']:.2f}x"
        for s in sizes
        if ("mgn", s) in forward
    ]
    per_node = {s: forward["unet", s]["us_per_node"] for s in sizes}
    lines += [
        f"U-Net forward time per node, {sizes[0]} -> {s}: {per_node[s] / per_node[sizes[0]]:.2f}x"
        for s in sizes[1:]
    ]
    train = {(r["model"], r["size"]): r for r in rows if r["mode"] == "train" and "failed" not in r}
    for s in SIZES:
        if ("unet", s) in train and ("unet-checkpoint", s) in train:
            plain, saved = train["unet", s], train["unet-checkpoint", s]
            lines.append(
                f"U-Net train at {s} with / without checkpointing: peak memory "
                f"{saved['peak_gb'] / plain['peak_gb']:.2f}x, time "
                f"{saved['time_s'] / plain['time_s']:.2f}x"
            )
    return "\n".join(lines)


def measure(model_name: str, size: str, mode: str) -> dict:
    import torch

    from surrogate.graph import graph_from_hierarchy, mesh_edge_index
    from surrogate.pooling.hierarchy import build_hierarchy

    mesh = _mesh(size)
    record = {"model": model_name, "size": size, "mode": mode, "nodes": mesh.num_nodes}

    started = time.perf_counter()
    hierarchy = build_hierarchy(mesh.points, mesh_edge_index(mesh), num_levels=4)
    record["hierarchy_s"] = time.perf_counter() - started
    x = np.random.default_rng(0).normal(size=(mesh.num_nodes, IN_DIM))
    data = graph_from_hierarchy(hierarchy, x)
    del hierarchy
    torch.manual_seed(0)
    model = _model(model_name)
    record["parameters"] = sum(p.numel() for p in model.parameters())
    times = []
    for _ in range(REPEATS[size] + 1):  # the first run warms up (allocator, caches)
        started = time.perf_counter()
        if mode == "forward":
            model.eval()
            with torch.no_grad():
                model(data)
        else:
            model.train()
            model.zero_grad()
            model(data).square().mean().backward()
        times.append(time.perf_counter() - started)
    record["time_s"] = statistics.median(times[1:])
    record["us_per_node"] = record["time_s"] / mesh.num_nodes * 1e6
    record["peak_gb"] = peak_gb()
    return record


def _mesh(size: str):
    from solvers import Mesh, geometry

    cache = OUT / f"mesh-{size}.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=False) as data:
            return Mesh(data["points"], data["cells"])
    mesh = geometry.rectangle_with_holes(holes=[], h=SIZES[size])
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez(cache, points=mesh.points, cells=mesh.cells)
    return mesh


def _model(name: str):
    from surrogate.nn import meshgraphnet
    from surrogate.nn.baselines import DenseDiffPoolUNet, TopKGraphUNet
    from surrogate.nn.unet import MultigridUNet, UNetConfig

    if name.startswith("unet"):
        return MultigridUNet(
            UNetConfig(
                IN_DIM,
                OUT_DIM,
                latent=LATENT,
                blocks=[1, 2, 2, 4],
                checkpoint=name == "unet-checkpoint",
            )
        )
    if name == "mgn":
        return meshgraphnet(IN_DIM, OUT_DIM, 2, latent=LATENT, blocks=15)
    if name == "topk":
        return TopKGraphUNet(IN_DIM, OUT_DIM, latent=LATENT, depth=4)
    return DenseDiffPoolUNet(IN_DIM, OUT_DIM, latent=LATENT)


HEAD = (
    "| model | mesh | mode | nodes | parameters | hierarchy s | time s | µs/node | peak GB |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def _row(r: dict) -> str:
    if "failed" in r:
        return f"| {r['model']} | {r['size']} | {r['mode']} | | | | {r['failed']} | | |"
    return (
        f"| {r['model']} | {r['size']} | {r['mode']} | {r['nodes']:,} | {r['parameters']:,} "
        f"| {r['hierarchy_s']:.2f} | {r['time_s']:.2f} | {r['us_per_node']:.1f} "
        f"| {r['peak_gb']:.2f} |"
    )


if __name__ == "__main__":
    main()
