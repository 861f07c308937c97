"""Navier-Stokes reference solver: DFG cylinder benchmark values and speed.

    python benchmarks/navier_stokes.py dfg1                  # 2D-1 (Re 20) on refined meshes
    python benchmarks/navier_stokes.py dfg2 [--h 0.02 --h-cylinder 0.004 --dt 0.005 --end 8]
    python benchmarks/navier_stokes.py speed                 # ~2k and ~20k vertices

dfg1 and dfg2 print the benchmark quantities next to the published intervals (Schaefer and
Turek 1996); dfg2 also their deviations from the later converged reference values
(dfg.REFERENCE_2D2). speed runs 600 steps saved every 0.01 s at Re 100 on a cylinder channel of
about 2k vertices (the size of MeshGraphNets' cylinder_flow) and a shorter run on about
20k, printing wall time per simulated second and the top of a profile. Results are also
written as JSON to runs/benchmarks/.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import time

from _common import OUT, machine

from solvers import dfg
from solvers.geometry import channel_with_obstacle
from solvers.navier_stokes import navier_stokes, steady_navier_stokes

DFG1_MESHES = [(0.04, 0.01), (0.02, 0.005), (0.015, 0.0035), (0.01, 0.0025)]
# MeshGraphNets' cylinder_flow channel: 1.6 x 0.41, cylinder near the inlet.
SPEED_MESHES = {"2k": (0.025, 0.007), "20k": (0.0075, 0.002)}


def dfg1() -> list[dict]:
    rows = []
    for h, h_cylinder in DFG1_MESHES:
        problem = dfg.problem("2D-1", h=h, h_cylinder=h_cylinder)
        started = time.perf_counter()
        values = dfg.steady_values(steady_navier_stokes(problem))
        seconds = time.perf_counter() - started
        inside = dfg.within_bounds(values, "2D-1")
        rows.append({"vertices": problem.mesh.num_nodes, "seconds": seconds, **values})
        print(
            f"| {problem.mesh.num_nodes} | {values['drag']:.4f} | {values['lift']:.5f} | "
            f"{values['pressure_drop']:.5f} | {_marks(inside)} | {seconds:.1f} |",
            flush=True,
        )
    return rows


def dfg2(h: float, h_cylinder: float, dt: float, end: float, max_cfl: float) -> dict:
    problem = dfg.problem("2D-2", h=h, h_cylinder=h_cylinder)
    started = time.perf_counter()
    history = navier_stokes(problem, dt, round(end / dt), max_cfl=max_cfl)
    seconds = time.perf_counter() - started
    values = dfg.periodic_values(history)
    inside = dfg.within_bounds(values, "2D-2")
    deviation = ", ".join(
        f"{100 * (values[name] / reference - 1):+.2f}%"
        for name, reference in dfg.REFERENCE_2D2.items()
    )
    print(
        f"| {problem.mesh.num_nodes} | {dt} | {history.cfl.max():.2f} | "
        f"{values['drag_max']:.4f} | {values['lift_max']:.4f} | {values['strouhal']:.4f} | "
        f"{_marks(inside)} | {deviation} | {seconds:.0f} |",
        flush=True,
    )
    return {
        "vertices": problem.mesh.num_nodes,
        "dt": dt,
        "end": end,
        "seconds": seconds,
        "max_cfl": float(history.cfl.max()),
        **values,
    }


def speed(sizes: list[str], steps: dict[str, int]) -> list[dict]:
    rows = []
    for size in sizes:
        h, h_cylinder = SPEED_MESHES[size]
        mesh = channel_with_obstacle(1.6, 0.41, h=h, h_obstacle=h_cylinder)
        problem = dfg.problem("2D-2", mesh)
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        history = navier_stokes(problem, 0.01, steps[size])
        profile.disable()
        seconds = time.perf_counter() - started
        simulated = steps[size] * 0.01
        row = {
            "size": size,
            "vertices": mesh.num_nodes,
            "saved_steps": steps[size],
            "internal_steps": len(history.step_times),
            "seconds": seconds,
            "seconds_per_simulated_second": seconds / simulated,
            "max_cfl": float(history.cfl.max()),
        }
        rows.append(row)
        print(
            f"| {mesh.num_nodes} | {steps[size]} ({row['internal_steps']} internal) | "
            f"{seconds:.1f} | {row['seconds_per_simulated_second']:.1f} | "
            f"{row['max_cfl']:.2f} |",
            flush=True,
        )
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(8)
        print("\n".join(text.getvalue().splitlines()[6:18]), flush=True)
    return rows


def _marks(inside: dict[str, bool]) -> str:
    return ", ".join(f"{name} {'in' if ok else 'OUT'}" for name, ok in inside.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("dfg1", "dfg2", "speed"))
    parser.add_argument("--h", type=float, default=0.02, help="dfg2 far-field cell size")
    parser.add_argument("--h-cylinder", type=float, default=0.004, help="dfg2 size at cylinder")
    parser.add_argument("--dt", type=float, default=0.005, help="dfg2 time step")
    parser.add_argument("--end", type=float, default=8.0, help="dfg2 simulated seconds")
    parser.add_argument("--max-cfl", type=float, default=10.0, help="dfg2 CFL limit")
    parser.add_argument("--sizes", nargs="+", default=list(SPEED_MESHES))
    args = parser.parse_args()
    print(f"Machine: {machine()}")
    if args.part == "dfg1":
        print("| vertices | c_D | c_L | dp | published intervals | seconds |")
        print("|---|---|---|---|---|---|")
        result = dfg1()
    elif args.part == "dfg2":
        print(
            "| vertices | dt | max CFL | c_D,max | c_L,max | St | published intervals | "
            "vs converged reference | seconds |\n" + "|---" * 9 + "|"
        )
        result = dfg2(args.h, args.h_cylinder, args.dt, args.end, args.max_cfl)
    else:
        print(
            "| vertices | steps | seconds | seconds per simulated second | max CFL |\n"
            "|---|---|---|---|---|"
        )
        result = speed(args.sizes, {"2k": 600, "20k": 50})
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"navier_stokes_{args.part}.json"
    path.write_text(json.dumps({"machine": machine(), "result": result}, indent=1))


if __name__ == "__main__":
    main()
