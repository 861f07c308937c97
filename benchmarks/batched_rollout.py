"""Many meshes at once: predict_many (graphs batched, each with its hierarchy) against
predict_on_mesh one mesh at a time, side by side in one process, on the same plates, model
and steps; prints meshes per second for each and the ratio.

    python benchmarks/batched_rollout.py --meshes 16 --steps 10 --batch-size 8
    python benchmarks/batched_rollout.py --device cuda --precision bf16   # on a GPU

The model is the heat_holes U-Net of the demo's size (latent 64, blocks [1, 1, 2, 2]) with
untrained weights: speed does not depend on them. Graph and hierarchy construction count
in both columns, as they do for a user.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from _common import machine

from solvers import geometry
from surrogate import physics
from surrogate.model.checkpoint import model_settings, read_checkpoint
from surrogate.model.device import resolve_device
from surrogate.model.rollout import predict_many, predict_on_mesh
from surrogate.model.surrogate import Surrogate

FIXTURE = Path(__file__).parents[1] / "tests" / "fixtures" / "checkpoints" / "heat_holes.ckpt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meshes", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--h", type=float, default=0.06, help="plate cell size")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="32", choices=("32", "bf16"))
    args = parser.parse_args()
    torch.manual_seed(0)
    settings = model_settings(read_checkpoint(FIXTURE))  # heat_holes' schema and hierarchy
    settings["network"] = {"name": "unet", "latent": 64, "blocks": [1, 1, 2, 2]}
    settings["hierarchy"] = {**settings["hierarchy"], "num_levels": 4}
    model = Surrogate(**settings).to(resolve_device(args.device)).eval()
    meshes = [geometry.rectangle_with_holes(seed=s, h=args.h) for s in range(args.meshes)]
    cases = [(m, physics.pose(model.schema, m, {"hole_0": "1"}, {})) for m in meshes]
    predict_many(model, cases[:2], args.steps, args.precision)  # warm-up
    started = time.perf_counter()
    for mesh, setup in cases:
        predict_on_mesh(model, mesh, setup, args.steps, args.precision)
    alone = time.perf_counter() - started
    started = time.perf_counter()
    predict_many(model, cases, args.steps, args.precision, args.batch_size)
    batched = time.perf_counter() - started
    nodes = sum(m.num_nodes for m in meshes) / len(meshes)
    print(
        f"Machine: {machine()}, device {model.adapter.pinned_channels.device}, "
        f"precision {args.precision}"
    )
    print(f"{args.meshes} plates of ~{nodes:.0f} nodes, {args.steps} steps each")
    print("| mode | seconds | meshes per second |")
    print("|---|---|---|")
    print(f"| one at a time | {alone:.2f} | {args.meshes / alone:.2f} |")
    print(f"| batches of {args.batch_size} | {batched:.2f} | {args.meshes / batched:.2f} |")
    print(f"batched / one at a time: {alone / batched:.2f}x the throughput")


if __name__ == "__main__":
    main()
