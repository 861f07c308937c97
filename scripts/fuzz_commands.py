"""A hostile fuzz of every command: out-of-range, non-finite, malformed and path-like values
for each option, and hand-made bad files (truncated, empty, random bytes, not regular
files, decompression bombs, escaping references, tampered datasets and checkpoints, a
checkpoint that would run code if unpickled).

Each case runs `surrogate ...` in its own process under a time limit and reports how it
ended: refused (exit 2, one sentence on stderr, no traceback, nothing written or changed),
accepted (exit 0 with finite output), or a failure: crash (traceback or exit 3), hang (over
the time limit), memory (over the limit), several lines, non-finite output, lost or
half-written files, or code run from a file. Slow (about 20 minutes on 2 cores); not part
of the test suite, whose tests/surrogate/test_bad_input.py holds one case per category.

    python scripts/fuzz_commands.py [--only SUBSTRING] [--report fuzz.json]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SURROGATE = str(Path(sys.executable).with_name("surrogate"))
FIXTURES = ROOT / "tests" / "fixtures" / "checkpoints"
TIME_LIMIT_S, MEMORY_LIMIT_GB = 120, 4.0
VALUES = [
    "nan", "inf", "-inf", "-1", "0", "1e308", "-1e308", "abc", "", "1e999",
    "99999999999999999999", "x**9**9**9", "[1, 2]", "{a: 1}", "../../etc/passwd", "/dev/zero",
]  # fmt: skip
PWNED = "pwned.txt"  # written by the pickled checkpoint if it were ever unpickled


def commands(files: dict) -> list[tuple[str, list[str], list[str]]]:
    """(name, valid argv, options to fuzz): each option is replaced by each hostile value.
    An option like "--dirichlet hole_0=" gets the value appended after the prefix."""
    heat_ckpt = str(FIXTURES / "heat_holes.ckpt")
    elastic_ckpt = str(FIXTURES / "elasticity_holes.ckpt")
    return [
        (
            "solve poisson",
            ["solve", "poisson", "--geometry", "l_shape", "--h", "0.1", "--dirichlet", "0"],
            ["--h", "--kappa", "--source", "--dirichlet", "--seed", "--rtol", "--max-nodes",
             "--neumann", "--robin", "--dirichlet left="],
        ),
        (
            "solve heat",
            ["solve", "heat", "--geometry", "l_shape", "--h", "0.1", "--dirichlet", "0",
             "--steps", "3", "--dt", "0.01"],
            ["--dt", "--steps", "--theta", "--u0", "--kappa"],
        ),
        (
            "solve elasticity",
            ["solve", "elasticity", "--geometry", "l_shape", "--h", "0.1", "--dirichlet",
             "left=0", "--traction", "right=1,0"],
            ["--E", "--nu", "--traction right=", "--body-force"],
        ),
        (
            "solve navier_stokes",
            ["solve", "navier_stokes", "--geometry", "channel_with_obstacle", "--h", "0.1",
             "--steps", "2", "--dt", "0.01"],
            ["--viscosity", "--inflow-peak", "--max-cfl", "--grad-div", "--dt"],
        ),
        (
            "rollout heat",
            ["rollout", "--checkpoint", heat_ckpt, "--geometry", "rectangle_with_holes",
             "--h", "0.1", "--dirichlet", "hole_0=1", "--steps", "3", "--no-pictures"],
            ["--steps", "--h", "--seed", "--dirichlet hole_0=", "--input kappa=", "--initial",
             "--device", "--max-nodes"],
        ),
        (
            "rollout elasticity",
            ["rollout", "--checkpoint", elastic_ckpt, "--geometry", "rectangle_with_holes",
             "--h", "0.1", "--dirichlet", "left=0", "--traction", "right=1,0",
             "--no-pictures"],
            ["--traction right=", "--input E=", "--input nu="],
        ),
        (
            "generate",
            ["generate", "poisson_holes", "--samples", "2", "--set", "h=0.1"],
            ["--samples", "--workers", "--seed", "--shard", "--set holes=", "--set radius=",
             "--set source_amplitude=", "--set kappa="],
        ),
        (
            "ingest",
            ["ingest", str(files["series"]), "--fields", "u"],
            ["--fields", "--pinned", "--dt"],
        ),
        (
            "evaluate",
            ["evaluate", "--checkpoint", str(files["trained"]), "--data", str(files["data"])],
            ["--steps", "--split", "--device", "--precision"],
        ),
        (
            "train",
            ["train", "--config", str(ROOT / "configs/small/poisson_holes.yaml"),
             "--data.folder", str(files["data"]), "--trainer.max_steps", "2",
             "--data.validation_samples", "1", "--trainer.val_check_interval", "1",
             "--trainer.max_time", "00:00:00:40"],
            ["--trainer.max_steps", "--data.batch_size", "--model.lr", "--seed_everything",
             "--data.hierarchy.method", "--model.network.latent"],
        ),
    ]  # fmt: skip


def value_cases(files: dict) -> list[dict]:
    cases = []
    for name, base, options in commands(files):
        for option in options:
            flag, _, prefix = option.partition(" ")
            for value in VALUES:
                argv = [*base, flag, prefix + value] if "=" in option else [*base, flag, value]
                cases.append({"name": f"{name} {option}{value!r}", "argv": argv})
    return cases


def file_cases(files: dict) -> list[dict]:
    """The bad files of make_files, each where a command reads that kind of file."""
    heat = str(FIXTURES / "heat_holes.ckpt")
    small = str(ROOT / "configs/small/poisson_holes.yaml")
    square = str(files["dir"] / "square.vtu")
    rollout = ["rollout", "--steps", "2", "--no-pictures"]
    held = ["--dirichlet", "hole_0=1"]
    uses = {
        "meshes": [
            ("solve --mesh", ["solve", "poisson", "--dirichlet", "0", "--mesh"]),
            ("rollout --mesh", [*rollout, "--checkpoint", heat, *held, "--mesh"]),
        ],
        "series_files": [
            ("ingest", ["ingest", "--fields", "u"]),
            ("rollout --series", [*rollout, "--checkpoint", heat, "--series"]),
        ],
        "checkpoints": [
            ("rollout --checkpoint", [*rollout, "--geometry", "rectangle_with_holes", "--h",
                                      "0.1", *held, "--checkpoint"]),
            ("evaluate --checkpoint", ["evaluate", "--data", str(files["data"]), "--checkpoint"]),
        ],
        "configs": [
            ("solve --config", ["solve", "poisson", "--geometry", "l_shape", "--h", "0.1",
                                "--dirichlet", "0", "--config"]),
            ("train --config", ["train", "--config"]),
            ("rollout --parts", [*rollout, "--checkpoint", heat, *held, "--mesh", square,
                                 "--parts"]),
            ("generate", ["generate", "--samples", "1"]),
        ],
        "datasets": [
            ("dataset check", ["dataset", "check"]),
            ("evaluate --data", ["evaluate", "--checkpoint", str(files["trained"]), "--data"]),
            ("train --data.folder", ["train", "--config", small, "--trainer.max_steps", "2",
                                     "--data.folder"]),
        ],
    }  # fmt: skip
    cases = []
    for kind, commands_using in uses.items():
        for name in files[kind]:
            for label, argv in commands_using:
                cases.append({"name": f"{label} {name}", "argv": [*argv, str(files["dir"] / name)],
                              "no_out": label == "dataset check"})  # fmt: skip
    return cases


def make_files(folder: Path) -> dict:
    """A valid mesh, series, dataset and trained checkpoint, and the bad files."""
    import meshio

    from solvers import geometry
    from solvers.mesh_io import write_mesh, write_time_series

    folder.mkdir(parents=True)
    square = geometry.rectangle_with_holes(holes=[], h=0.2)
    write_mesh(square, folder / "square.vtu")
    good = (folder / "square.vtu").read_bytes()
    meshes = {
        "empty.vtu": b"",
        "truncated.vtu": good[: len(good) // 2],
        "random.vtu": np.random.default_rng(0).bytes(4096),
        "truncated.msh": b"$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$Nodes\n5\n1 0 0 0\n",
        "nodes_only.obj": b"v 0 0 0\nv 1 0 0\n",
        "bomb.vtu": _vtu_bomb(good),
        "escape.xdmf": _xdmf("/etc/passwd", "Binary"),
        "escape_h5.xdmf": _xdmf("../outside.hdf5:/data", "HDF"),
    }
    for name, content in meshes.items():
        (folder / name).write_bytes(content)
    square3 = np.column_stack([[0.0, 1, 1, 0], [0.0, 0, 1, 1], np.zeros(4)])
    hand_made = {  # cells other solvers write, made bad
        "nan_points.vtu": ([[np.nan, 0, 0], *square3[1:]], [("quad", [[0, 1, 2, 3]])]),
        "inverted_quad.vtu": (square3, [("quad", [[0, 1, 3, 2]])]),
        "repeated_vertex.vtu": (square3, [("quad", [[0, 1, 2, 2]])]),
        "out_of_range.vtu": (square3, [("quad", [[0, 1, 2, 9]])]),
        "lines_only.vtu": (square3, [("line", [[0, 1], [1, 2]])]),
    }
    for name, (points, cells) in hand_made.items():
        meshio.write(folder / name, meshio.Mesh(np.array(points, float), cells))
    (folder / "a_folder.vtu").mkdir()
    os.mkfifo(folder / "fifo.vtu")
    (folder / "zero.vtu").symlink_to("/dev/zero")
    meshes = [*meshes, *hand_made, "a_folder.vtu", "fifo.vtu", "zero.vtu", "missing.vtu"]

    u = np.stack([square.points[:, 0] * t for t in (0.0, 0.5, 1.0)])
    write_time_series(square, folder / "series" / "run.pvd", [0.0, 0.1, 0.2], {"u": u})
    pvd = (folder / "series" / "run.pvd").read_text()
    series = {
        "bad_time.pvd": pvd.replace('timestep="0.1"', 'timestep="abc"'),
        "escape.pvd": pvd.replace('file="run_0001.vtu"', 'file="../../square.vtu"'),
        "absolute.pvd": pvd.replace('file="run_0001.vtu"', 'file="/etc/passwd"'),
        "repeated_time.pvd": pvd.replace('timestep="0.1"', 'timestep="0.0"'),
        "nan_time.pvd": pvd.replace('timestep="0.1"', 'timestep="nan"'),
        "empty.pvd": "",
    }
    for name, text in series.items():
        (folder / "series" / name).write_text(text)
    series_files = [f"series/{name}" for name in series]

    configs = {
        "alias_bomb.yaml": "a: &a [1, 2]\nb: &b [*a, *a]\nc: [*b, *b]\n",
        "wrong_types.yaml": "h: [1, 2]\ndt: abc\n",
        "not_mapping.yaml": "- 1\n- 2\n",
        "binary.yaml": "\x00\x01\x02",
        "huge.yaml": "a: " + "x" * (2 << 20) + "\n",
        "parts_strings.yaml": "inlet: {x: [a, b]}\n",
        "python_tag.yaml": "a: !!python/object/apply:os.system ['touch pwned.txt']\n",
    }
    for name, text in configs.items():
        (folder / name).write_text(text)

    data = folder / "data"
    run(["generate", "poisson_holes", "--samples", "4", "--set", "h=0.1", "--out", str(data)])
    trained = folder / "trained"
    run(["train", "--config", str(ROOT / "configs/small/poisson_holes.yaml"), "--data.folder",
         str(data), "--trainer.max_steps", "2", "--data.validation_samples", "1",
         "--trainer.default_root_dir", str(trained)])  # fmt: skip
    datasets = _bad_datasets(data, folder)
    checkpoints = _bad_checkpoints(trained / "checkpoints" / "last.ckpt", folder)
    return {
        "dir": folder, "series": folder / "series" / "run.pvd", "data": data,
        "trained": trained / "checkpoints" / "last.ckpt", "meshes": meshes,
        "series_files": series_files, "configs": list(configs), "datasets": datasets,
        "checkpoints": checkpoints,
    }  # fmt: skip


def _vtu_bomb(good: bytes) -> bytes:
    text = good.decode()
    start = text.index(">", text.index('Name="Points"')) + 1
    claim = base64.b64encode(struct.pack("<III", 64, 2**30, 2**30)).decode()
    return (text[:start] + claim + text[start + len(claim) :]).encode()


def _xdmf(reference: str, kind: str) -> bytes:
    return (
        '<Xdmf Version="3.0"><Domain><Grid Name="m"><Topology TopologyType="Triangle" '
        'NumberOfElements="1"><DataItem Dimensions="1 3" Format="XML">0 1 2</DataItem>'
        '</Topology><Geometry GeometryType="XY"><DataItem Dimensions="3 2" NumberType="Float" '
        f'Format="{kind}">{reference}</DataItem></Geometry></Grid></Domain></Xdmf>'
    ).encode()


def _bad_datasets(data: Path, folder: Path) -> list[str]:
    manifest = json.loads((data / "manifest.json").read_text())
    first = data / manifest["samples"][0]["file"]
    edits = {
        "samples_text": lambda m: m | {"samples": "abc"},
        "no_schema": lambda m: {k: v for k, v in m.items() if k != "schema"},
        "outside_file": lambda m: _first_file(m, "../../square.vtu"),
        "absolute_file": lambda m: _first_file(m, "/etc/passwd"),
        "dev_zero": lambda m: _first_file(m, "/dev/zero"),
        "not_json": None,
        "truncated_sample": None,
        "pickled_sample": None,
    }
    for name, edit in edits.items():
        copy = folder / f"data_{name}"
        shutil.copytree(data, copy)
        if edit is not None:
            (copy / "manifest.json").write_text(json.dumps(edit(json.loads(json.dumps(manifest)))))
        elif name == "not_json":
            (copy / "manifest.json").write_text("{not json")
        elif name == "truncated_sample":
            (copy / first.relative_to(data)).write_bytes(first.read_bytes()[:1000])
        else:
            np.savez(copy / first.relative_to(data), points=np.array([{"a": 1}], dtype=object))
    return [f"data_{name}" for name in edits]


def _first_file(manifest: dict, name: str) -> dict:
    manifest["samples"][0]["file"] = name
    return manifest


def _bad_checkpoints(good: Path, folder: Path) -> list[str]:
    import torch

    content = good.read_bytes()
    made = {"empty.ckpt": b"", "truncated.ckpt": content[: len(content) // 2],
            "random.ckpt": np.random.default_rng(1).bytes(10000)}  # fmt: skip
    for name, data in made.items():
        (folder / name).write_bytes(data)
    checkpoint = torch.load(good, weights_only=True)
    variants = {
        "no_state.ckpt": {k: v for k, v in checkpoint.items() if k != "state_dict"},
        "no_hyper.ckpt": {k: v for k, v in checkpoint.items() if k != "hyper_parameters"},
        "foreign.ckpt": {"weights": torch.zeros(3)},
        "wrong_shapes.ckpt": checkpoint
        | {
            "state_dict": {
                k: v[..., :1] if v.ndim else v for k, v in checkpoint["state_dict"].items()
            }
        },
    }
    for name, value in variants.items():
        torch.save(value, folder / name)
    torch.save({"payload": Pickled()}, folder / "pickled.ckpt")
    return [*made, *variants, "pickled.ckpt"]


class Pickled:
    """Unpickling this runs `touch pwned.txt`: a checkpoint must never be unpickled."""

    def __reduce__(self):
        return (os.system, (f"touch {PWNED}",))


def run(argv: list[str]) -> None:
    result = subprocess.run([SURROGATE, *argv], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"set-up failed: surrogate {' '.join(argv)}\n{result.stderr}")


def contents(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink() and not p.is_fifo()
    }


def run_case(case: dict, work: Path, files: dict) -> dict:
    """Runs one case in its own folder; returns it with its outcome."""
    home = Path(tempfile.mkdtemp(dir=work))
    out = home / "out"
    argv = list(case["argv"])
    if not case.get("no_out"):
        if argv[0] == "train":
            argv += ["--trainer.default_root_dir", str(out)]
        elif argv[0] == "evaluate":
            argv += ["--out", str(out / "figures.json")]
        else:
            argv += ["--out", str(out)]
        if argv[0] in ("solve", "rollout", "ingest"):  # a previous output that must survive
            out.mkdir()
            (out / "previous.txt").write_text("an earlier result\n")
            argv.append("--overwrite")
    before = contents(files["dir"])
    code, stderr, seconds, peak_gb = _run_bounded(argv, home)
    outcome = _judge(code, stderr, out, home, files, before, argv[0])
    if outcome in ("refused", "accepted") and peak_gb > MEMORY_LIMIT_GB:
        outcome = "memory"
    shutil.rmtree(home, ignore_errors=True)
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    last = lines[-1][:300] if lines else ""
    return case | {"outcome": outcome, "code": code, "seconds": round(seconds, 1),
                   "peak_gb": round(peak_gb, 2), "stderr": last}  # fmt: skip


def _run_bounded(argv: list[str], home: Path) -> tuple[int | None, str, float, float]:
    """Exit code (None when killed at the time limit), stderr, seconds and the process's
    peak resident memory in GB (os.wait4's rusage)."""
    started = time.perf_counter()
    with open(home / "stdout", "w") as stdout, open(home / "stderr", "w") as stderr:
        process = subprocess.Popen(
            [SURROGATE, *argv], cwd=home, stdout=stdout, stderr=stderr, start_new_session=True
        )
    code, usage = None, None
    while time.perf_counter() - started < TIME_LIMIT_S:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            code = os.waitstatus_to_exitcode(status)
            break
        time.sleep(0.05)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        _, _, usage = os.wait4(process.pid, 0)
    process.returncode = code  # reaped above: keep Popen from waiting again
    seconds = time.perf_counter() - started
    return code, (home / "stderr").read_text(), seconds, usage.ru_maxrss / 2**20


def _judge(code, stderr, out, home, files, before, command) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    if (home / PWNED).exists() or (files["dir"] / PWNED).exists():
        return "code ran"
    if contents(files["dir"]) != before:
        return "inputs changed"
    if code is None:
        return "hang"
    if "Traceback" in stderr or code == 3:
        return "crash"
    if code == 0:
        return "accepted" if _finite(out) else "non-finite output"
    if code != 2:
        return f"exit {code}"
    if len(errors) != 1 or errors[0] != lines[-1]:
        return "several lines"
    if command in ("solve", "rollout", "ingest"):
        left = sorted(p.name for p in out.iterdir()) if out.exists() else []
        return "refused" if left == ["previous.txt"] else "output changed"
    if command == "train" and (out / "checkpoints" / "last.ckpt").exists():
        return "refused"  # a run that failed after saving a checkpoint is kept: resumable
    return "refused" if not out.exists() else "left output"


def _finite(out: Path) -> bool:
    import meshio

    for path in out.rglob("*.vtu") if out.exists() else []:
        mesh = meshio.read(path)
        if not all(np.isfinite(np.asarray(v, float)).all() for v in mesh.point_data.values()):
            return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run the cases whose name holds this")
    parser.add_argument("--report", type=Path, default=Path("fuzz.json"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fuzz-"))
    files = make_files(work / "files")
    cases = [c for c in value_cases(files) + file_cases(files) if args.only in c["name"]]
    print(f"{len(cases)} cases, {args.workers} at a time", flush=True)
    with ThreadPoolExecutor(args.workers) as pool:
        results = list(pool.map(lambda case: run_case(case, work, files), cases))
    tally: dict[str, int] = {}
    for result in results:
        tally[result["outcome"]] = tally.get(result["outcome"], 0) + 1
        if result["outcome"] not in ("refused", "accepted"):
            print(f"{result['outcome']:>17}: {result['name']}\n{'':>19}{result['stderr']}")
    print(json.dumps(tally, indent=1))
    args.report.write_text(json.dumps(results, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    failures = sum(n for outcome, n in tally.items() if outcome not in ("refused", "accepted"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
