"""Reference-solver scaling: mesh generation, P1 assembly, direct and AMG solves, peak memory.

Poisson -Laplace u = 1, u = 0 on the boundary, on gmsh meshes of the unit square (about
10k, 100k and 1M nodes) and the unit cube (about 100k nodes). Each (mesh, solver) pair runs
in a fresh process so its peak resident memory is its own; generated meshes are cached in
runs/benchmarks/ so gmsh runs once per size. Prints a Markdown table and writes JSON.

    python benchmarks/solver_scaling.py [--sizes 10k 100k 1M 3d-100k] [--timeout 600]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from _common import OUT, machine, peak_gb, run_child

# name -> (dimension, gmsh target size h); h calibrated for the node counts in the names.
CASES = {"10k": (2, 0.0107), "100k": (2, 0.0034), "1M": (2, 0.00107), "3d-100k": (3, 0.0202)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--timeout", type=float, default=600, help="seconds per run")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_case(*args.child)))
        return
    rows = []
    for case in args.sizes:
        (OUT / f"mesh-{case}.npz").unlink(missing_ok=True)  # time gmsh in every run
        for method in ("amg", "direct"):
            record = {"case": case, "method": method}
            rows.append(run_child(__file__, [case, method], args.timeout, record))
            print(_row(rows[-1]), flush=True)
    header = f"Machine: {machine()}"
    print(f"\n{header}\n\n{TABLE_HEAD}\n" + "\n".join(_row(r) for r in rows))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "solver_scaling.json").write_text(
        json.dumps({"machine": header, "rows": rows}, indent=1)
    )


def run_case(case: str, method: str) -> dict:
    from solvers import Mesh, SolverOptions, geometry
    from solvers.fem import load_vector, stiffness
    from solvers.linalg import ConstrainedSystem

    dim, h = CASES[case]
    record: dict = {"case": case, "method": method}
    cache = OUT / f"mesh-{case}.npz"
    started = time.perf_counter()
    if cache.exists():
        with np.load(cache, allow_pickle=False) as data:
            mesh = Mesh(data["points"], data["cells"])
    else:
        make = geometry.rectangle_with_holes if dim == 2 else geometry.box_with_holes
        mesh = make(holes=[], h=h)
        record["mesh_generation_s"] = time.perf_counter() - started
        OUT.mkdir(parents=True, exist_ok=True)
        np.savez(cache, points=mesh.points, cells=mesh.cells)
    record.update(nodes=mesh.num_nodes, cells=mesh.num_cells, peak_mesh_gb=peak_gb())

    t = time.perf_counter()
    matrix, rhs = stiffness(mesh), load_vector(mesh, 1.0)
    record["assembly_s"] = time.perf_counter() - t
    boundary = mesh.boundary_nodes

    t = time.perf_counter()
    system = ConstrainedSystem(matrix, boundary, SolverOptions(method, rtol=1e-8), dim)
    record["setup_s"] = time.perf_counter() - t
    t = time.perf_counter()
    u = system.solve(rhs, np.zeros(len(boundary)))
    record["solve_s"] = time.perf_counter() - t
    free = system.free
    residual = rhs[free] - matrix[free] @ u
    record["relative_residual"] = float(np.linalg.norm(residual) / np.linalg.norm(rhs[free]))
    record["max_u"] = float(u.max())
    record["peak_gb"] = peak_gb()
    return record


TABLE_HEAD = (
    "| mesh | nodes | solver | gmsh s | assembly s | setup s | solve s | setup+solve s "
    "| rel. residual | peak GB |\n|---|---|---|---|---|---|---|---|---|---|"
)


def _row(r: dict) -> str:
    if "failed" in r:
        return f"| {r['case']} | | {r['method']} | | | | failed: {r['failed']} | | | |"
    gen = f"{r['mesh_generation_s']:.1f}" if "mesh_generation_s" in r else "(cached)"
    total = r["setup_s"] + r["solve_s"]
    return (
        f"| {r['case']} | {r['nodes']:,} | {r['method']} | {gen} | {r['assembly_s']:.2f} "
        f"| {r['setup_s']:.2f} | {r['solve_s']:.2f} | {total:.2f} | {r['relative_residual']:.1e} "
        f"| {r['peak_gb']:.2f} |"
    )


if __name__ == "__main__":
    main()
