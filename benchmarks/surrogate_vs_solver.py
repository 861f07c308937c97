"""Surrogate against solver on the cylinder channel: wall time per simulated second of a
cylinder_flow rollout (the configs' U-Net, latent 128, blocks [1, 2, 2, 4]) and of the
bundled Navier-Stokes solver over the same saved steps from the same developed state, in
one process, on a ~2k-vertex channel (the recipe's, MeshGraphNets' size) and a ~20k one.

    python benchmarks/surrogate_vs_solver.py                         # CPU fp32 and bf16
    python benchmarks/surrogate_vs_solver.py --device cuda --precisions bf16   # on a GPU

The surrogate's weights are untrained (its speed does not depend on them); building its
graph and hierarchy counts in its time, once per rollout, as for a user. The solver runs
on this machine's CPU in every case (it is a SciPy solver). Each surrogate figure is the
median of `--repeats` rollouts after one warm-up; the solver runs once per mesh. Prints a
table and the ratios, and writes JSON to runs/benchmarks/ (or --json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import yaml
from _common import OUT, machine

from solvers import Mesh
from solvers.geometry import channel_with_obstacle
from surrogate import physics
from surrogate.data.sample import Sample, read_sample, write_sample
from surrogate.model.checkpoint import model_settings, read_checkpoint
from surrogate.model.device import describe, resolve_device
from surrogate.model.rollout import predict_on_mesh
from surrogate.model.surrogate import Surrogate

ROOT = Path(__file__).parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "checkpoints" / "cylinder_flow.ckpt"
RECIPE = ROOT / "datasets" / "cylinder_flow" / "recipe.yaml"
MESHES = {"2k": (0.025, 0.007), "20k": (0.0075, 0.002)}  # (h, h at the cylinder)
NETWORK = {"name": "unet", "latent": 128, "blocks": [1, 2, 2, 4]}  # configs/cylinder_flow


def cylinder_model(device: torch.device, record_from: float | None = None) -> Surrogate:
    """The cylinder_flow model of configs/cylinder_flow.yaml, untrained, with the recipe's
    parameters (the fixture checkpoint supplies the schema's fields and scales); the
    rollout starts record_from seconds after the start from rest (default the recipe's)."""
    settings = model_settings(read_checkpoint(FIXTURE))
    parameters = yaml.safe_load(RECIPE.read_text())["parameters"]
    if record_from is not None:
        parameters["record_from"] = record_from
    settings["schema"]["parameters"] = parameters
    settings["network"] = dict(NETWORK)
    settings["hierarchy"] = {"num_levels": 4, "method": "mis", "ratio": 4.0}
    torch.manual_seed(0)
    return Surrogate(**settings).to(device).eval()


def channel(size: str, folder: Path | None = None) -> Mesh:
    """The channel of that size: read from folder/channel_SIZE.npz when there (a machine
    without gmsh), else meshed, and saved there when a folder is given."""
    path = None if folder is None else folder / f"channel_{size}.npz"
    if path is not None and path.exists():
        return read_sample(path).mesh
    h, h_cylinder = MESHES[size]
    mesh = channel_with_obstacle(1.6, 0.41, h=h, h_obstacle=h_cylinder)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_sample(path, Sample(mesh, {}))
    return mesh


def measure(mesh: Mesh, steps: int, precisions: list[str], device, repeats: int, start=None):
    model = cylinder_model(device, start)
    setup = physics.pose(model.schema, mesh, {}, {})  # the solver runs the ramp up to here
    simulated = steps * model.schema.dt
    started = time.perf_counter()
    setup.reference(steps)
    solver = (time.perf_counter() - started) / simulated
    row = {"vertices": mesh.num_nodes, "steps": steps, "solver_s_per_s": solver}
    for precision in precisions:
        predict_on_mesh(model, mesh, setup, 2, precision)  # warm-up (kernels, allocator)
        times = []
        for _ in range(repeats):
            _synchronize(device)
            started = time.perf_counter()
            predict_on_mesh(model, mesh, setup, steps, precision)
            _synchronize(device)
            times.append((time.perf_counter() - started) / simulated)
        row[f"surrogate_{precision}_s_per_s"] = statistics.median(times)
        row[f"ratio_{precision}"] = solver / statistics.median(times)
    return row


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(MESHES), choices=list(MESHES))
    parser.add_argument("--steps", type=int, nargs="+", default=[50, 10], help="per size")
    parser.add_argument("--precisions", nargs="+", default=["32", "bf16"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=OUT / "surrogate_vs_solver.json")
    parser.add_argument("--record-from", type=float, help="s from rest (default the recipe's)")
    parser.add_argument("--meshes", type=Path, help="folder of channel_SIZE.npz (made if absent)")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    steps = dict(zip(args.sizes, args.steps + args.steps[-1:] * len(args.sizes), strict=False))
    print(f"Machine: {machine()}; surrogate on {describe(device)}, solver on the CPU")
    print("| mesh | vertices | steps | solver s per simulated s | surrogate s per simulated s |")
    print("|---|---|---|---|---|")
    rows = []
    for size in args.sizes:
        mesh = channel(size, args.meshes)
        row = {"size": size} | measure(
            mesh, steps[size], args.precisions, device, args.repeats, args.record_from
        )
        rows.append(row)
        surrogate = ", ".join(
            f"{p}: {row[f'surrogate_{p}_s_per_s']:.3f} ({row[f'ratio_{p}']:.1f}x faster)"
            for p in args.precisions
        )
        print(
            f"| {size} | {row['vertices']:,} | {row['steps']} | {row['solver_s_per_s']:.2f} "
            f"| {surrogate} |",
            flush=True,
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    record = {"machine": machine(), "device": describe(device), "rows": rows}
    args.json.write_text(json.dumps(record, indent=1))
    return rows


if __name__ == "__main__":
    main()
