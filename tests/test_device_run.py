"""The prepared GPU run (benchmarks/device_run.py) as a dry run on the CPU, tiny sizes, with
gmsh and pyvista hidden as on the lent machine's image."""

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "device_run.py"


def test_the_device_run_works_without_gmsh_and_pyvista(tmp_path):
    bundle, out, hidden = tmp_path / "bundle", tmp_path / "out", tmp_path / "hidden"
    prepare = [sys.executable, str(SCRIPT), "prepare", str(bundle), "--samples", "10"]
    prepare += ["--set", "h=0.2", "--set", "steps=3", "--sizes", "2k", "--no-wheels"]
    subprocess.run(prepare, check=True, capture_output=True)
    hidden.mkdir()
    for name in ("gmsh", "pyvista"):  # importing them fails, as there
        (hidden / f"{name}.py").write_text("raise ImportError('not on the lent image')\n")
    environment = {**os.environ, "PYTHONPATH": str(hidden), "TMPDIR": str(tmp_path)}
    command = [sys.executable, str(SCRIPT), "run", str(bundle), str(out), "--dry-run"]
    done = subprocess.run(command, env=environment, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert results["environment"]["missing"] == ["gmsh", "pyvista"]
    assert results["data_pipeline"]["workers_0"]["warm"] > 0
    assert results["training"]["steps"] == 3
    assert 0 < results["evaluation"]["relative_l2"]["u"]["1"]["mean"] < 10
    (row,) = results["surrogate_vs_solver"]["rows"]
    assert row["vertices"] > 1000 and row["ratio_32"] > 0 and row["ratio_bf16"] > 0
    assert (out / "loss.png").stat().st_size > 0
    assert (bundle / "meshes" / "channel_2k.npz").exists()  # meshed here, read there
