"""Bad input, table-driven: each case is a command line a hostile or careless user might
type, and each must end in one sentence on stderr, exit status 2, no traceback and nothing
written (issue 33's categories: values out of range or not finite, formulas that overflow
or misuse functions, work too large to do, configs of the wrong type, YAML aliases, files
outside their folder, tampered datasets)."""

import base64
import json
import struct
from pathlib import Path

import numpy as np
import pytest

import surrogate.data.sample as sample_module
from solvers import geometry
from solvers.mesh_io import write_mesh, write_time_series
from surrogate.cli import main
from surrogate.data.generate import generate
from surrogate.data.recipes import load_recipe
from surrogate.data.sample import DatasetError, Sample, read_sample, write_sample
from tests.surrogate.conftest import quick_train

BOMB = "a: &a [1, 2]\nb: &b [*a, *a]\nc: [*b, *b]\n"  # aliases: refused, however small


RECIPE = (Path(__file__).parents[2] / "datasets/poisson_holes/recipe.yaml").read_text()
RECIPE = RECIPE.replace("\nfields:", "\n  colour: blue\nfields:")


def files(tmp_path: Path) -> dict:
    """Hand-made inputs: configs of the wrong type, an alias bomb, a small mesh."""
    made = {
        "dt_text": "dt: abc\n",
        "steps_text": 'steps: "abc"\n',
        "h_list": "h: [1, 2]\n",
        "robin_number": "robin: {left: 5}\n",
        "bomb": BOMB,
        "unknown": "colour: blue\n",
        "recipe_extra": RECIPE,
    }
    paths = {}
    for name, text in made.items():
        paths[name] = tmp_path / f"{name}.yaml"
        paths[name].write_text(text)
    write_mesh(geometry.rectangle_with_holes(holes=[], h=0.25), tmp_path / "square.vtu")
    return paths


FIXTURES = Path(__file__).parents[1] / "fixtures" / "checkpoints"
ROLLOUT = ["rollout", "--checkpoint", str(FIXTURES / "heat_holes.ckpt"), "--dirichlet", "hole_0=1"]
ROLLOUT += ["--geometry", "rectangle_with_holes"]
ROLLOUT_ELASTIC = ["rollout", "--checkpoint", str(FIXTURES / "elasticity_holes.ckpt")]
ROLLOUT_ELASTIC += ["--geometry", "rectangle_with_holes", "--dirichlet", "left=0"]
ROLLOUT_ELASTIC += ["--traction", "right=1,0"]
SOLVE = ["solve", "poisson", "--geometry", "l_shape", "--dirichlet", "0"]
CASES = {
    "steps too many for memory": (
        ["solve", "heat", "--geometry", "l_shape", "--steps", "3000000", "--h", "0.02"],
        "GiB of values",
    ),
    "steps beyond the limit": (
        ["solve", "heat", "--geometry", "l_shape", "--steps", "1000000000"],
        "a number of steps",
    ),
    "cell size too small": ([*SOLVE, "--h", "1e-6"], "nodes; expected at most"),
    "cell size nan": ([*SOLVE, "--h", "nan"], "h is nan; expected a cell size"),
    "cell size inf": ([*SOLVE, "--h", "inf"], "h is inf; expected a cell size"),
    "negative conductivity": ([*SOLVE, "--kappa", "-1"], "expected a positive quantity"),
    "poisson ratio 0.5": (
        ["solve", "elasticity", "--geometry", "l_shape", "--dirichlet", "left=0", "--nu", "0.5"],
        "Poisson's ratio: a finite number above -1 and below 0.5",
    ),
    "formula overflow": ([*SOLVE, "--kappa", "x**9**9**9"], "cannot be evaluated"),
    "function arity": ([*SOLVE, "--kappa", "sin(1,2)"], "calls sin with 2 argument(s)"),
    "formula too long": ([*SOLVE, "--kappa=" + "-" * 50000 + "1"], "expected at most 1000"),
    "formula not finite": ([*SOLVE, "--source", "1/(x-x)"], "cannot be evaluated"),
    "config dt text": ([*SOLVE, "--config", "{dt_text}"], "dt is 'abc'; expected a time step"),
    "config steps text": ([*SOLVE, "--config", "{steps_text}"], "steps is 'abc'"),
    "config h list": ([*SOLVE, "--config", "{h_list}"], "h is [1, 2]; expected a cell size"),
    "config robin number": (
        ["solve", "poisson", "--geometry", "l_shape", "--config", "{robin_number}"],
        "expected ALPHA,U_EXT",
    ),
    "config alias bomb": ([*SOLVE, "--config", "{bomb}"], "uses an alias"),
    "config unknown key": ([*SOLVE, "--config", "{unknown}"], "unknown parameter(s) colour"),
    "generate bad override": (
        ["generate", "poisson_holes", "--samples", "2", "--set", "radius=abc"],
        "expected a value of the form",
    ),
    "generate too many samples": (
        ["generate", "poisson_holes", "--samples", "100000000"],
        "a sample count",
    ),
    "generate negative seed": (
        ["generate", "poisson_holes", "--samples", "2", "--seed", "-1"],
        "a seed",
    ),
    "generate mesh too fine": (
        ["generate", "poisson_holes", "--samples", "2", "--set", "h=0.0001"],
        "would have about 120,000,000 nodes",
    ),
    "generate range reversed": (
        ["generate", "poisson_holes", "--samples", "2", "--set", "radius=[0.2, 0.1]"],
        "expected [low, high] with low <= high",
    ),
    "generate too many holes": (
        ["generate", "poisson_holes", "--samples", "2", "--set", "holes=[1, 100]"],
        "parameter holes is 100; expected a number of holes",
    ),
    "generate poisson ratio": (
        ["generate", "elasticity_holes", "--samples", "2", "--set", "nu=[0.2, 0.6]"],
        "expected Poisson's ratio",
    ),
    "generate negative conductivity": (
        [
            "generate",
            "heat_holes",
            "--samples",
            "2",
            "--set",
            "kappa={mean: -1, log_std: [0.2, 0.8], length: [0.1, 0.4]}",
        ],
        "parameter kappa.mean is -1; expected a conductivity",
    ),
    "generate recipe of unknown parameters": (
        ["generate", "{recipe_extra}", "--samples", "2"],
        "its parameters include unknown colour",
    ),
    "solve node budget": ([*SOLVE, "--h", "0.01", "--max-nodes", "100"], "expected at most 100 "),
    "rollout negative conductivity": ([*ROLLOUT, "--input", "kappa=-1"], "expected a conductivity"),
    "rollout guard limit nan": ([*ROLLOUT, "--max-estimate", "nan"], "--max-estimate: 'nan'"),
    "rollout guard limit negative": ([*ROLLOUT, "--max-residual", "-1"], "positive quantity"),
    "rollout guard limit text": ([*ROLLOUT, "--max-spread", "abc"], "argument --max-spread: 'abc'"),
    "rollout guard on a steady model": (
        [*ROLLOUT_ELASTIC, "--max-estimate", "0.1"],
        "guard transient rollouts only",
    ),
    "rollout mesh too fine": ([*ROLLOUT, "--h", "1e-5"], "nodes; expected at most"),
    "rollout elasticity poisson ratio": (
        [*ROLLOUT_ELASTIC, "--input", "nu=0.7"],
        "--input nu is '0.7'; expected Poisson's ratio",
    ),
    "rollout batch size zero": ([*ROLLOUT, "--seed", "1", "2", "--batch-size", "0"], "'0'"),
    "rollout batch size huge": ([*ROLLOUT, "--seed", "1", "2", "--batch-size", "1e9"], "'1e9'"),
    "rollout seeds not numbers": ([*ROLLOUT, "--seed", "1", "nan"], "--seed"),
    "rollout folder of no meshes": (
        [*ROLLOUT[:5], "--mesh", "{meshless}"],
        "the folder holds no mesh file",
    ),
    "demo no workers": (["demo", "--workers", "0"], "a number of processes"),
    "demo minutes nan": (["demo", "--minutes", "nan"], "a time in minutes"),
    "ingest dt zero": (["ingest", "{square}", "--fields", "u", "--dt", "0"], "a time step"),
    "train alias bomb": (["train", "--config", "{bomb}"], "uses an alias"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_is_one_sentence_and_writes_nothing(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = {**files(tmp_path), "square": tmp_path / "square.vtu"}
    paths["meshless"] = tmp_path / "meshless"  # a folder holding no mesh file
    paths["meshless"].mkdir()
    (paths["meshless"] / "readme.txt").write_text("no mesh here")
    args, message = CASES[case]
    args = [str(paths.get(a.strip("{}"), a)) for a in args]  # "{name}": a hand-made file
    out = tmp_path / "out"
    if args[0] != "train":  # train writes to runs/train, below the working folder
        args += ["--out", str(out)]
    code = main(args)
    error = capsys.readouterr().err
    assert code == 2, error
    assert message in error and "Traceback" not in error
    lines = error.strip().splitlines()
    assert [line for line in lines if "error:" in line] == lines[-1:]  # the last, and alone
    assert not out.exists() and not (tmp_path / "runs").exists()


def test_a_manifest_naming_files_outside_its_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "data"
    generate(load_recipe("poisson_holes", ["h=0.2"]), folder, 1, progress=False)
    manifest = json.loads((folder / "manifest.json").read_text())
    (tmp_path / "outside.npz").write_bytes((folder / manifest["samples"][0]["file"]).read_bytes())
    for name in ("../outside.npz", "/etc/passwd", "/dev/zero"):
        manifest["samples"][0]["file"] = name
        (folder / "manifest.json").write_text(json.dumps(manifest))
        assert main(["dataset", "check", str(folder)]) == 2
        error = capsys.readouterr().err
        assert "outside the dataset's samples/ folder" in error and "Traceback" not in error


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(samples="abc"), "'samples' is 'abc', not a list"),
        (lambda m: m["samples"][0].pop("sha256"), "lacks one of index, file, sha256, steps"),
        (lambda m: m["recipe"].update(transient="yes"), "recipe 'transient'"),
    ],
)
def test_a_tampered_manifest_is_one_sentence(tmp_path, capsys, change, message):
    folder = tmp_path / "data"
    generate(load_recipe("poisson_holes", ["h=0.2"]), folder, 1, progress=False)
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert main(["dataset", "check", str(folder)]) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_samples_with_bad_times_or_text_fields_are_not_intact(tmp_path):
    mesh = geometry.rectangle_with_holes(holes=[], h=0.3)
    u = np.zeros((2, mesh.num_nodes, 1))
    write_sample(tmp_path / "a.npz", Sample(mesh, {"u": u}, np.array([np.nan, np.nan])))
    with pytest.raises(DatasetError, match="times are not finite and increasing"):
        read_sample(tmp_path / "a.npz")
    write_sample(
        tmp_path / "b.npz", Sample(mesh, {"u": np.full((mesh.num_nodes, 1), "x")}), field_dtype=str
    )
    with pytest.raises(DatasetError, match="field 'u' holds <U1; expected numbers"):
        read_sample(tmp_path / "b.npz")


@pytest.fixture
def heat_series(tmp_path):
    """A 3-state heat run as .pvd + .vtu."""
    mesh = geometry.rectangle_with_holes(seed=3, h=0.2)
    u = np.zeros((3, mesh.num_nodes))
    write_time_series(mesh, tmp_path / "run" / "out.pvd", [0.0, 0.1, 0.2], {"u": u})
    return tmp_path / "run" / "out.pvd"


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("left: {x: ['a', 'b']}\n", "has x: ['a', 'b']; expected [low, high]"),
        ("left: {x: [0, .nan]}\n", "expected [low, high], numbers or null"),
        ("left: {x: [0, 1], role: sink}\n", "has role 'sink'; expected one of"),
        ("left: {w: [0, 1]}\n", "names 'w'; expected x, y, z, role or rest"),
        ("left: 5\n", "is 5; expected"),
    ],
)
def test_bad_part_rules_are_one_sentence(heat_series, tmp_path, capsys, rules, message):
    path = tmp_path / "rules.yaml"
    path.write_text(rules)
    out = tmp_path / "data"
    args = ["ingest", str(heat_series), "--fields", "u", "--parts", str(path), "--out", str(out)]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error and not out.exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda pvd: pvd.replace('timestep="0.1"', 'timestep="abc"'), "timestep 'abc' is not"),
        (lambda pvd: pvd.replace('timestep="0.2"', 'timestep="0.1"'), "not finite and increasing"),
    ],
)
def test_bad_series_are_one_sentence(heat_series, tmp_path, capsys, edit, message):
    heat_series.write_text(edit(heat_series.read_text()))
    out = tmp_path / "data"
    assert main(["ingest", str(heat_series), "--fields", "u", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error and not out.exists()


def test_ingest_without_field_names_is_one_sentence(heat_series, tmp_path, capsys):
    assert main(["ingest", str(heat_series), "--fields", " , ", "--out", str(tmp_path / "d")]) == 2
    assert "expected field names" in capsys.readouterr().err


TRAIN_CASES = {
    "batch size 0": (["--data.batch_size", "0"], "data.batch_size is 0"),
    "learning rate 0": (["--model.lr", "0"], "model.lr is 0.0; expected a positive"),
    "negative max steps": (["--trainer.max_steps", "-5"], "trainer.max_steps is -5"),
    "unknown coarsening": (["--data.hierarchy.method", "bogus"], "data.hierarchy.method is"),
    "split of zeros": (["--data.split", "[0, 0, 0]"], "three non-negative fractions"),
    "graph cache not a bool": (["--data.graph_cache", "sometimes"], "data.graph_cache is"),
}


@pytest.mark.parametrize("case", list(TRAIN_CASES), ids=list(TRAIN_CASES))
def test_bad_training_options_are_one_sentence(datasets, tmp_path, capsys, case):
    options, message = TRAIN_CASES[case]
    run = tmp_path / "run"
    assert quick_train(Path("configs/poisson_holes.yaml"), datasets, run, *options) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error and not run.exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all"], ids=["empty", "junk"])
def test_resume_from_a_broken_last_checkpoint_is_one_sentence(datasets, tmp_path, capsys, content):
    run = tmp_path / "run"
    assert quick_train(Path("configs/poisson_holes.yaml"), datasets, run) == 0
    (run / "checkpoints" / "last.ckpt").write_bytes(content)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert quick_train(Path("configs/poisson_holes.yaml"), datasets, run, "--resume") == 2
    error = capsys.readouterr().err
    assert "last.ckpt" in error and "Traceback" not in error
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


CLAIM = struct.pack("<III", 64, 2**30, 2**30)  # 64 blocks of 1 GiB


def inline_bomb(tmp_path: Path) -> str:
    """A small mesh whose points' inline base64 header claims 64 GiB."""
    write_mesh(geometry.rectangle_with_holes(holes=[], h=0.25), tmp_path / "plain.vtu")
    text = (tmp_path / "plain.vtu").read_text()
    start = text.index(">", text.index('Name="Points"')) + 1  # the points' base64 header
    claim = base64.b64encode(CLAIM).decode()
    return text[:start] + claim + text[start + len(claim) :]


def appended_bomb(encoding: str) -> bytes:
    """VTK's appended layout (as ParaView writes it): arrays point into the bytes after
    <AppendedData>_, raw or base64; the points' header there claims 64 GiB."""
    data = CLAIM + b"x" * 16 if encoding == "raw" else base64.b64encode(CLAIM) + b"eA=="
    return (
        b'<?xml version="1.0"?>\n<VTKFile type="UnstructuredGrid" version="0.1" '
        b'byte_order="LittleEndian" header_type="UInt32" compressor="vtkZLibDataCompressor">'
        b'<UnstructuredGrid><Piece NumberOfPoints="3" NumberOfCells="1"><Points>'
        b'<DataArray type="Float64" NumberOfComponents="3" format="appended" offset="0"/>'
        b"</Points></Piece></UnstructuredGrid>"
        + f'<AppendedData encoding="{encoding}">_'.encode()
        + data
        + b"</AppendedData></VTKFile>"
    )


@pytest.mark.parametrize("layout", ["inline", "raw", "base64"])
def test_a_vtu_whose_compressed_arrays_claim_gigabytes_is_refused_unread(tmp_path, capsys, layout):
    bomb = tmp_path / "bomb.vtu"
    if layout == "inline":
        bomb.write_text(inline_bomb(tmp_path))
    else:
        bomb.write_bytes(appended_bomb(layout))
    out = tmp_path / "out"
    code = main(["solve", "poisson", "--mesh", str(bomb), "--dirichlet", "0", "--out", str(out)])
    error = capsys.readouterr().err
    assert code == 2 and "unpack to 64.0 GiB" in error and not out.exists()


def test_a_sample_whose_arrays_claim_more_than_memory_is_refused(tmp_path, monkeypatch):
    mesh = geometry.rectangle_with_holes(holes=[], h=0.3)
    write_sample(tmp_path / "a.npz", Sample(mesh, {"u": np.zeros((mesh.num_nodes, 1))}))
    monkeypatch.setattr(sample_module, "memory_budget", lambda: 1000)  # bytes
    with pytest.raises(DatasetError, match="its arrays unpack to"):
        read_sample(tmp_path / "a.npz")


class Pickled:
    """Unpickling this would write a file: checkpoints are never unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_checkpoint_holding_python_objects_is_refused_and_runs_nothing(tmp_path, capsys):
    import torch

    marker = tmp_path / "code_ran"
    torch.save({"payload": Pickled(marker)}, tmp_path / "pickled.ckpt")
    code = main([*ROLLOUT[:2], str(tmp_path / "pickled.ckpt"), *ROLLOUT[3:], "--out", "x"])
    error = capsys.readouterr().err
    assert code == 2 and "Python objects other than weights" in error and not marker.exists()
