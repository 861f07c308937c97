"""Datasets: sample round trip, deterministic and resumable generation, shards, checks that
name bad files, recipes and their refusals."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from solvers import geometry
from surrogate.cli import main
from surrogate.data.generate import generate
from surrogate.data.manifest import check_dataset, read_manifest
from surrogate.data.recipes import load_recipe, recipe_names
from surrogate.data.sample import DatasetError, Sample, read_sample, sample_path, write_sample

TINY = {  # overrides that make each bundled recipe fast
    "poisson_holes": ["h=0.15"],
    "heat_holes": ["h=0.15", "steps=3"],
    "elasticity_holes": ["h=0.15"],
    "cylinder_flow": ["h=0.1", "h_obstacle=0.04", "steps=2", "record_from=0.02"],
    "poisson_box_holes": ["h=0.35"],
}


def tiny(name):
    return load_recipe(name, TINY[name])


def files_of(folder):
    """Every file of the samples folder, the hidden partial writes of a killed run too."""
    return {p.name: p.read_bytes() for p in sorted((folder / "samples").iterdir())}


def test_sample_round_trip_keeps_mesh_fields_and_meta(tmp_path):
    mesh = geometry.rectangle_with_holes(seed=1, h=0.2)
    rng = np.random.default_rng(0)
    fields = {
        "u": rng.normal(size=(3, mesh.num_nodes, 1)),
        "v": rng.normal(size=(3, mesh.num_nodes, 2)),
    }
    sample = Sample(mesh, fields, np.array([0.0, 0.1, 0.2]), {"seed": 7, "note": "x"})
    write_sample(tmp_path / "s.npz", sample)
    back = read_sample(tmp_path / "s.npz")
    np.testing.assert_array_equal(back.mesh.points, mesh.points)
    np.testing.assert_array_equal(back.mesh.cells, mesh.cells)
    assert set(back.mesh.boundary_parts) == set(mesh.boundary_parts)
    for name, values in fields.items():  # stored in float32
        np.testing.assert_allclose(back.fields[name], values, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(back.times, sample.times)
    assert back.meta == sample.meta and back.transient
    write_sample(tmp_path / "t.npz", sample)  # deterministic bytes
    assert (tmp_path / "s.npz").read_bytes() == (tmp_path / "t.npz").read_bytes()


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_bundled_recipe_generates_valid_samples(tmp_path, name):
    assert name in recipe_names()
    recipe = tiny(name)
    manifest = generate(recipe, tmp_path / name, samples=1, progress=False)
    assert manifest["complete"] and check_dataset(tmp_path / name) == []
    sample = read_sample(sample_path(tmp_path / name, 0))
    assert set(sample.fields) == set(recipe["fields"])
    assert sample.transient == recipe["transient"]
    assert set(sample.meta["part_roles"]) == set(sample.mesh.boundary_parts)
    assert manifest["samples"][0]["seed"] == sample.meta["seed"]


def test_cylinder_flow_saves_the_tail_of_its_run_from_rest(tmp_path):
    """Saving from record_from on keeps the same states as saving from rest on."""
    base = ["h=0.1", "h_obstacle=0.04"]
    runs = {"late": ["steps=2", "record_from=0.02"], "all": ["steps=4", "record_from=0"]}
    for name, overrides in runs.items():
        recipe = load_recipe("cylinder_flow", [*base, *overrides])
        generate(recipe, tmp_path / name, samples=1, progress=False)
    late, full = (read_sample(sample_path(tmp_path / name, 0)) for name in runs)
    np.testing.assert_allclose(late.times, full.times[2:])
    for name in ("velocity", "pressure"):
        np.testing.assert_array_equal(late.fields[name], full.fields[name][2:])
    assert np.abs(late.fields["velocity"][0]).max() > 0  # not at rest


def test_results_do_not_depend_on_workers_or_shards(tmp_path):
    recipe = tiny("poisson_holes")
    generate(recipe, tmp_path / "one", samples=4, workers=1, progress=False)
    generate(recipe, tmp_path / "two", samples=4, workers=2, progress=False)
    generate(recipe, tmp_path / "shards", samples=4, shard=(1, 2), progress=False)
    partial = read_manifest(tmp_path / "shards")
    assert not partial["complete"] and [e["index"] for e in partial["samples"]] == [1, 3]
    generate(recipe, tmp_path / "shards", samples=4, shard=(0, 2), progress=False)
    reference = files_of(tmp_path / "one")
    assert files_of(tmp_path / "two") == reference == files_of(tmp_path / "shards")
    manifests = [(tmp_path / d / "manifest.json").read_text() for d in ("one", "two", "shards")]
    assert manifests[0] == manifests[1] == manifests[2]


def test_kill_9_then_resume_equals_an_uninterrupted_run(tmp_path):
    recipe_file = tmp_path / "recipe.yaml"
    recipe = tiny("heat_holes")
    recipe["parameters"]["steps"] = 20
    recipe_file.write_text(json.dumps(recipe))  # JSON is YAML
    command = [
        sys.executable,
        "-m",
        "surrogate.cli",
        "generate",
        str(recipe_file),
        "--out",
        str(tmp_path / "killed"),
        "--samples",
        "6",
    ]
    process = subprocess.Popen(
        command, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 120
    while not list((tmp_path / "killed" / "samples").glob("sample_*.npz")):
        assert time.time() < deadline and process.poll() is None
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the command and its worker processes
    process.wait()
    done_before = len(list((tmp_path / "killed" / "samples").glob("sample_*.npz")))
    assert 1 <= done_before < 6 and not (tmp_path / "killed" / "manifest.json").exists()
    assert (
        main(
            [
                "generate",
                str(recipe_file),
                "--out",
                str(tmp_path / "killed"),
                "--samples",
                "6",
                "--workers",
                "2",
            ]
        )
        == 0
    )
    generate(load_recipe(recipe_file), tmp_path / "whole", samples=6, progress=False)
    assert files_of(tmp_path / "killed") == files_of(tmp_path / "whole")
    killed, whole = (
        json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("killed", "whole")
    )
    assert killed == whole


def test_check_names_corrupted_truncated_and_missing_samples(tmp_path, capsys):
    folder = tmp_path / "d"
    generate(tiny("poisson_holes"), folder, samples=3, progress=False)
    assert main(["dataset", "check", str(folder)]) == 0
    first, second, third = (sample_path(folder, i) for i in range(3))
    data = bytearray(first.read_bytes())
    data[len(data) // 2] ^= 0xFF
    first.write_bytes(bytes(data))
    second.write_bytes(second.read_bytes()[:100])
    third.unlink()
    problems = check_dataset(folder)
    assert len(problems) == 3
    assert "sample_000000.npz: checksum differs" in problems[0]
    assert "sample_000001.npz: checksum differs" in problems[1]
    assert "sample_000002.npz: missing" in problems[2]
    with pytest.raises(DatasetError, match=r"sample_000001\.npz: cannot be read"):
        read_sample(second)
    capsys.readouterr()
    assert main(["dataset", "check", str(folder)]) == 2
    out, err = capsys.readouterr()
    assert "sample_000000" in out and "3 problem(s)" in err and "Traceback" not in err


def test_info_summarises(tmp_path, capsys):
    generate(tiny("elasticity_holes"), tmp_path / "e", samples=2, progress=False)
    assert main(["dataset", "info", str(tmp_path / "e")]) == 0
    out = capsys.readouterr().out
    assert "elasticity_holes" in out and "samples: 2 of 2" in out and "von_mises" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["generate", "nonsense", "--samples", "1"], "recipe 'nonsense' is unknown"),
        (["generate", "poisson_holes", "--samples", "1", "--set", "bogus=1"], "names no parameter"),
        (["generate", "poisson_holes", "--samples", "1", "--shard", "2/2"], "--shard 2/2"),
        (["generate", "poisson_holes", "--samples", "0"], "expected a sample count"),
        (["dataset", "check"], "no manifest"),
    ],
)
def test_refusals_are_one_sentence(tmp_path, capsys, args, message):
    target = ["--out", str(tmp_path / "x")] if args[0] == "generate" else [str(tmp_path)]
    assert main([*args, *target]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_diverging_samples_are_named_and_the_others_written(tmp_path, capsys):
    overrides = [
        "h=0.1",
        "h_obstacle=0.04",
        "steps=3",
        "dt=0.1",
        "ramp=0",
        "max_cfl=1000",
        "reynolds=[1.0, 3000.0]",
        "grad_div=0",
        "record_from=0",
    ]
    recipe_file = tmp_path / "recipe.yaml"  # samples 0 and 1 (Re ~2000) diverge, 2 does not
    recipe_file.write_text(json.dumps(load_recipe("cylinder_flow", overrides)))
    out = tmp_path / "d"
    args = ["generate", str(recipe_file), "--out", str(out), "--samples", "3", "--workers", "2"]
    assert main(args) == 2
    err = capsys.readouterr().err  # the progress line, then the error
    last = err.splitlines()[-1]
    assert "failed on 2 of 3 samples (samples 0, 1; sample 0: the flow diverged at t" in last
    assert err.count("error:") == 1 and "Traceback" not in err
    assert [p.name for p in (out / "samples").iterdir()] == ["sample_000002.npz"]
    assert not (out / "manifest.json").exists()
    # Without the sample that converged, the failed run leaves no folder behind.
    out = tmp_path / "none"
    args = ["generate", str(recipe_file), "--out", str(out), "--samples", "2", "--workers", "2"]
    assert main(args) == 2 and not out.exists()


def test_resume_removes_its_own_partial_writes_only(tmp_path):
    generate(tiny("poisson_holes"), tmp_path / "d", samples=3, shard=(0, 2), progress=False)
    samples = tmp_path / "d" / "samples"
    (samples / "sample_000002.npz").unlink()  # killed while writing sample 2
    mine, other = samples / ".sample_000002.k1ll.npz", samples / ".sample_000001.b5sy.npz"
    mine.write_bytes(b"half a zip"), other.write_bytes(b"being written by shard 1/2")
    generate(tiny("poisson_holes"), tmp_path / "d", samples=3, shard=(0, 2), progress=False)
    assert not mine.exists() and other.exists()
    assert sorted(p.name for p in samples.glob("sample_*")) == [
        "sample_000000.npz",
        "sample_000002.npz",
    ]


def test_resume_refuses_another_recipe_or_seed(tmp_path):
    generate(tiny("poisson_holes"), tmp_path / "d", samples=1, progress=False)
    with pytest.raises(DatasetError, match="another recipe or seed"):
        generate(tiny("poisson_holes"), tmp_path / "d", samples=1, seed=1, progress=False)
