"""Peak memory of `surrogate ingest` on a large series (issue 30: a 200k-node, 200-step
series within 2 GB): writes a quad-mesh series of NODES nodes and STEPS steps with one
point field, ingests it in a child process and prints the child's peak resident memory
beside the size of the series' field values alone.

    python benchmarks/ingest_memory.py [--side 447] [--steps 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from solvers.mesh import Mesh
from solvers.mesh_io import write_time_series


def quad_grid(side: int) -> Mesh:
    """The unit square in side x side quads ((side + 1)^2 nodes)."""
    ticks = np.linspace(0, 1, side + 1)
    x, y = np.meshgrid(ticks, ticks)
    points = np.column_stack([x.ravel(), y.ravel()])
    i, j = np.meshgrid(np.arange(side), np.arange(side))
    corner = (j * (side + 1) + i).ravel()
    quads = np.column_stack([corner, corner + 1, corner + side + 2, corner + side + 1])
    return Mesh.from_shapes(points, (("quad", quads),))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=447, help="quads per side (447: 200,704 nodes)")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ingest-memory-"))
    mesh = quad_grid(args.side)
    started = time.perf_counter()
    shape = np.sin(np.pi * mesh.points[:, 0]) * np.sin(np.pi * mesh.points[:, 1])
    for k in range(args.steps):  # one step at a time: this script's memory stays small too
        write_time_series(mesh, work / "series" / f"run_{k:04d}", [0.01 * k], {"u": [shape * k]})
    pvd = "\n".join(
        f'<DataSet timestep="{0.01 * k!r}" file="run_{k:04d}_0000.vtu"/>' for k in range(args.steps)
    )
    (work / "series" / "run.pvd").write_text(
        f'<?xml version="1.0"?>\n<VTKFile type="Collection"><Collection>\n{pvd}\n'
        "</Collection></VTKFile>\n"
    )
    written = time.perf_counter() - started
    series, out = str(work / "series" / "run.pvd"), str(work / "data")
    command = [str(Path(sys.executable).with_name("surrogate")), "ingest", series]
    command += ["--fields", "u", "--out", out]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("ingest failed")
    fields_mb = args.steps * mesh.num_nodes * 8 / 2**20
    print(f"series: {mesh.num_nodes:,} nodes ({args.side**2:,} quads), {args.steps} steps, "
          f"written in {written:.0f} s")  # fmt: skip
    print(f"ingest: {seconds:.0f} s, peak resident memory {usage.ru_maxrss / 2**10:,.0f} MB "
          f"(the field's values alone: {fields_mb:,.0f} MB)")  # fmt: skip
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
