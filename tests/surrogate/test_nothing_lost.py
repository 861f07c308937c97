"""Nothing is lost (issue 33, its first part): resumed runs keep their metrics, a run folder
holding a run is never replaced unasked, refused or failed runs leave folders as they were,
--overwrite never deletes an input, and an unexpected error is one sentence and a crash
log, never a traceback."""

import hashlib
import tempfile
from pathlib import Path

import numpy as np
import pytest

from solvers import geometry
from solvers.mesh_io import write_mesh
from surrogate.cli import main
from tests.surrogate.conftest import quick_train

POISSON = Path("configs/poisson_holes.yaml")


def contents(folder: Path) -> dict[str, str]:
    """Every file under folder by relative path, with the SHA-256 of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def validation_rows(run: Path) -> int:
    header, *rows = (run / "metrics.csv").read_text().splitlines()
    column = header.split(",").index("val/rollout_rel_l2")
    return sum(1 for row in rows if row.split(",")[column])


@pytest.fixture
def trained(datasets, tmp_path):
    run = tmp_path / "run"
    assert quick_train(POISSON, datasets, run) == 0
    assert validation_rows(run) == 1
    return run


def test_resume_appends_to_the_runs_metrics(datasets, trained):
    assert quick_train(POISSON, datasets, trained, "--resume", "--trainer.max_steps", "4") == 0
    assert validation_rows(trained) == 2  # the first run's row is still there


def test_a_new_run_into_a_runs_folder_is_refused_and_changes_nothing(datasets, trained, capsys):
    before = contents(trained)
    assert quick_train(POISSON, datasets, trained) == 2
    error = capsys.readouterr().err
    assert "holds another training run; expected --resume to continue it" in error
    assert contents(trained) == before


def test_a_refused_resume_leaves_the_run_exactly_as_it_was(datasets, trained, capsys):
    before = contents(trained)
    code = quick_train(POISSON, datasets, trained, "--resume", "--model.decay_over_time", "true")
    assert code == 2 and "trainer.max_time, which is not set" in capsys.readouterr().err
    assert contents(trained) == before


def test_overwrite_replaces_the_run(datasets, trained):
    assert quick_train(POISSON, datasets, trained, "--overwrite") == 0
    assert validation_rows(trained) == 1  # the new run's only


def test_overwrite_never_deletes_an_input_inside_the_output(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    mesh = geometry.rectangle_with_holes(holes=[], h=0.25)
    write_mesh(mesh, out / "mesh.vtu")
    code = main(
        [
            "solve",
            "poisson",
            "--mesh",
            str(out / "mesh.vtu"),
            "--dirichlet",
            "0",
            "--source",
            "1",
            "--out",
            str(out),
            "--overwrite",
        ]
    )
    error = capsys.readouterr().err
    assert code == 2 and "lies inside the output folder" in error
    assert sorted(p.name for p in out.iterdir()) == ["mesh.vtu"]


def test_an_unexpected_error_is_one_sentence_and_a_crash_log(monkeypatch, capsys, tmp_path):
    import surrogate.commands.solve as solve

    def broken(args):
        raise RuntimeError("something the code did not foresee")

    monkeypatch.setattr(solve, "run", broken)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the crash log goes
    code = main(["solve", "poisson", "--geometry", "l_shape", "--out", str(tmp_path / "o")])
    error = capsys.readouterr().err
    assert code == 3 and len(error.strip().splitlines()) == 1 and "Traceback" not in error
    assert "internal error (RuntimeError: something the code did not foresee)" in error
    log = Path(error.rsplit("written to ", 1)[1].rstrip(".\n"))
    assert log.parent == tmp_path and "Traceback" in log.read_text()


def test_rollout_starts_from_an_initial_state_file(datasets, tmp_path, capsys):
    run = tmp_path / "heat"
    assert quick_train(Path("configs/heat_holes.yaml"), datasets, run) == 0
    mesh = geometry.rectangle_with_holes(seed=77, h=0.08)
    initial = tmp_path / "initial.vtu"
    write_mesh(mesh, initial, point_data={"u": np.linspace(0.2, 0.8, mesh.num_nodes)})
    common = [
        "rollout",
        "--checkpoint",
        str(run / "checkpoints" / "last.ckpt"),
        "--geometry",
        "rectangle_with_holes",
        "--seed",
        "77",
        "--h",
        "0.08",
        "--dirichlet",
        "hole_0=1",
        "--steps",
        "2",
        "--no-pictures",
    ]
    out = tmp_path / "rollout"
    assert main([*common, "--initial", str(initial), "--out", str(out)]) == 0
    assert (out / "rollout.pvd").exists()
    wrong = tmp_path / "initial.txt"
    wrong.write_text("0.5")
    assert main([*common, "--initial", str(wrong), "--out", str(tmp_path / "r2")]) == 2
    assert "expected a number or a .vtu file" in capsys.readouterr().err


def test_a_failed_demo_leaves_no_new_folder(tmp_path, monkeypatch, capsys):
    import surrogate.data.generate as generate_module

    def fails(recipe, out, *args):  # as generation does when every sample diverges
        (out / "samples").mkdir(parents=True)
        raise generate_module.DatasetError("the solver failed on 1 of 1 samples.")

    monkeypatch.setattr(generate_module, "_make_missing", fails)
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--samples", "1", "--workers", "1"]) == 2
    assert "failed on 1 of 1" in capsys.readouterr().err and not out.exists()
