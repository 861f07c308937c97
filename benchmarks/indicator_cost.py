"""What the physics indicators cost against the solver they stand in for (issue 32).

On holes plates of growing size (the heat_holes set-up: kappa from a smooth field, two
holes held at fixed temperatures, outer sides insulated), side by side in one process:
the solver's 50 heat steps (solvers.heat, its default linear solver: SuperLU up to 50k
unknowns, AMG-CG above) and the indicators of a 50-step trajectory (the residual with
its error estimate, solvers.residuals.heat_residual); then one steady solve against one
steady residual with its estimate. The trajectory is the solver's own plus a smooth
perturbation, so the estimate is also checked against the known error. Then the flow: the
cylinder_flow channel (1.6 x 0.41, the DFG 2D-2 inflow, h 0.025, 0.007 at the cylinder:
about 2k vertices), 50 solver steps after a 1 s start, against the flow residual and
estimate of those states (their floors are printed: the solver's own states). Each timing
is the best of --repeat runs. Prints Markdown tables and writes
runs/benchmarks/indicator_cost.json.

    python benchmarks/indicator_cost.py [--h 0.03 0.01 0.003] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from _common import OUT, machine

from solvers import dfg, geometry, heat, poisson
from solvers.navier_stokes import navier_stokes
from solvers.residuals import flow_residual, heat_residual, poisson_residual

HELD = {"hole_0": 1.0, "hole_1": 0.0}
STEPS, DT = 50, 0.01


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--h", type=float, nargs="+", default=[0.03, 0.01, 0.003])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = [measure(h, args.repeat) for h in args.h]
    lines = [
        f"Machine: {machine()}; best of {args.repeat}",
        "",
        "| nodes | heat solver, 50 steps s | indicators, 50 steps s | ratio | estimate / true "
        "error | steady solve s | steady indicators s | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['nodes']:,} | {r['heat_solver_s']:.3f} | {r['heat_indicators_s']:.3f} "
            f"| {r['heat_indicators_s'] / r['heat_solver_s']:.2f} | {r['estimate_ratio']:.3f} "
            f"| {r['steady_solver_s']:.3f} | {r['steady_indicators_s']:.3f} "
            f"| {r['steady_indicators_s'] / r['steady_solver_s']:.2f} |"
        )
    flow = measure_flow(args.repeat)
    lines += [
        "",
        "| channel vertices | flow solver, 50 steps s | indicators s | ratio | momentum residual "
        "floor | velocity estimate floor | pressure estimate floor (steps 1-3 / after) |",
        "|---|---|---|---|---|---|---|",
        f"| {flow['nodes']:,} | {flow['solver_s']:.2f} | {flow['indicators_s']:.2f} "
        f"| {flow['indicators_s'] / flow['solver_s']:.2f} | {flow['momentum_floor']:.2%} "
        f"| {flow['velocity_floor']:.2%} | {flow['pressure_start']:.1%} / "
        f"{flow['pressure_floor']:.2%} |",
    ]
    print("\n".join(lines))
    OUT.mkdir(parents=True, exist_ok=True)
    record = {"machine": machine(), "rows": rows, "flow": flow}
    (OUT / "indicator_cost.json").write_text(json.dumps(record, indent=1))


def measure(h: float, repeat: int) -> dict:
    holes = [geometry.Hole(0.3, 0.5, 0.12), geometry.Hole(0.7, 0.5, 0.12)]
    mesh = geometry.rectangle_with_holes(holes=holes, h=h)
    x, y = mesh.points.T
    kappa = np.exp(0.5 * np.sin(3 * x) * np.cos(2 * y))
    u0 = 0.5 + 0.25 * np.sin(2 * x) * np.cos(3 * y)
    solve = lambda: heat(mesh, u0=u0, kappa=kappa, dirichlet=HELD, dt=DT, steps=STEPS)  # noqa: E731
    solver_s, states = best(solve, repeat)
    error = 0.02 * np.sin(np.pi * x) * np.sin(np.pi * y)
    error[np.concatenate([mesh.part_nodes(part) for part in HELD])] = 0
    error = error[None] * np.linspace(0, 1, STEPS + 1)[:, None]
    check = lambda: heat_residual(mesh, states + error, kappa, dirichlet=HELD, dt=DT)  # noqa: E731
    indicators_s, found = best(check, repeat)
    true = np.linalg.norm(error[-1]) / np.linalg.norm((states + error)[-1])
    steady = lambda: poisson(mesh, kappa=kappa, source=1.0, dirichlet=HELD)  # noqa: E731
    steady_s, u = best(steady, repeat)
    steady_check = lambda: poisson_residual(mesh, u + error[-1], kappa, 1.0, HELD)  # noqa: E731
    steady_indicators_s, _ = best(steady_check, repeat)
    row = {
        "h": h,
        "nodes": mesh.num_nodes,
        "heat_solver_s": solver_s,
        "heat_indicators_s": indicators_s,
        "estimate_ratio": float(found.estimate[-1] / true),
        "steady_solver_s": steady_s,
        "steady_indicators_s": steady_indicators_s,
    }
    print(row, flush=True)
    return row


def measure_flow(repeat: int) -> dict:
    mesh = geometry.channel_with_obstacle(1.6, 0.41, h=0.025, h_obstacle=0.007)
    problem = dfg.problem("2D-2", mesh)
    start = navier_stokes(problem, DT, 100)  # 1 s: the inflow is up, the wake forming
    run = lambda: navier_stokes(  # noqa: E731
        problem, DT, STEPS, u0=start.velocity_p2[-1], t0=100 * DT
    )
    solver_s, flow = best(run, repeat)
    check = lambda: flow_residual(problem, flow.velocity, flow.pressure, DT)  # noqa: E731
    indicators_s, (momentum, continuity) = best(check, repeat)
    row = {
        "nodes": mesh.num_nodes,
        "solver_s": solver_s,
        "indicators_s": indicators_s,
        "momentum_floor": float(momentum.relative.max()),
        "velocity_floor": float(momentum.estimate.max()),
        "pressure_start": float(continuity.estimate[:3].max()),
        "pressure_floor": float(continuity.estimate[3:].max()),
    }
    print(row, flush=True)
    return row


def best(run, repeat: int):
    """(the shortest of `repeat` timings, the last result)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


if __name__ == "__main__":
    main()
