"""Rollout on new meshes: the export read back with pyvista, metrics against the solver,
rollouts longer than training, steady and 3D models, replays of stored runs, and
refusals of bad input."""

import json
from pathlib import Path

import meshio
import numpy as np
import pytest
import pyvista as pv

from solvers import geometry, heat
from solvers.errors import ProblemError
from solvers.mesh_io import write_mesh, write_time_series
from solvers.navier_stokes import FlowProblem
from surrogate import physics
from surrogate.cli import main
from surrogate.data.sample import Sample
from surrogate.physics import channel_flow
from tests.surrogate.conftest import quick_train, schema


@pytest.fixture(scope="module")
def checkpoints(datasets, tmp_path_factory):
    """Tiny trained models: transient heat (trained on 3-step trajectories), steady 2D
    Poisson and steady 3D Poisson."""
    root = tmp_path_factory.mktemp("runs")
    names = ("heat_holes", "poisson_holes", "poisson_box_holes", "cylinder_flow")
    for name in names:
        assert quick_train(Path(f"configs/{name}.yaml"), datasets, root / name) == 0
    return {name: root / name / "checkpoints" / "last.ckpt" for name in names}


def rollout(checkpoint, out, *extra) -> int:
    return main(["rollout", "--checkpoint", str(checkpoint), "--out", str(out), *extra])


def test_heat_rollout_longer_than_training_exports_a_paraview_series(checkpoints, tmp_path):
    out = tmp_path / "heat"
    code = rollout(
        checkpoints["heat_holes"],
        out,
        "--geometry",
        "rectangle_with_holes",
        "--seed",
        "77",
        "--h",
        "0.08",
        "--dirichlet",
        "hole_0=1",
        "--dirichlet",
        "hole_1=0.2",
        "--steps",
        "8",
        "--reference",
    )
    assert code == 0
    reader = pv.get_reader(str(out / "rollout.pvd"))
    np.testing.assert_allclose(reader.time_values, 0.01 * np.arange(9))  # 8 > 3 trained steps
    reader.set_active_time_point(8)
    last = reader.read()[0]
    assert {"u", "u_reference", "u_error"} <= set(last.point_data)
    np.testing.assert_allclose(
        last.point_data["u_error"],
        last.point_data["u"] - last.point_data["u_reference"],
        atol=1e-6,
    )
    mesh = geometry.rectangle_with_holes(seed=77, h=0.08)
    hole = mesh.part_nodes("hole_0")
    np.testing.assert_allclose(last.point_data["u"][hole], 1.0)  # pinned nodes hold
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["fields"]["u"]["relative_l2"]) == 8 and len(metrics["times"]) == 9
    assert metrics["timings"]["surrogate_s"] > 0 and metrics["timings"]["solver_s"] > 0
    errors = np.array(metrics["fields"]["u"]["relative_l2"])
    assert np.all(np.isfinite(errors)) and np.all(errors > 0)
    for picture in ("u_final.png", "u_rollout.gif"):
        assert (out / picture).stat().st_size > 1000


def test_cylinder_flow_rollout_starts_where_the_recipe_records(checkpoints, tmp_path, monkeypatch):
    """The tiny recipe records from t = 0.02: the solver runs from rest to there, and the
    rollout and the reference go on from its state with the ramped inflow pinned."""
    penalties = []  # the reference solver gets the recipe's grad-div penalty

    def flow_problem(*args):
        penalties.append(args[-1])
        return FlowProblem(*args)

    monkeypatch.setattr(channel_flow, "FlowProblem", flow_problem)
    out = tmp_path / "flow"
    code = rollout(
        checkpoints["cylinder_flow"],
        out,
        "--geometry",
        "channel_with_obstacle",
        "--h",
        "0.06",
        "--dirichlet",
        "inlet=1.2",
        "--steps",
        "4",
        "--reference",
        "--no-pictures",
    )
    assert code == 0
    reader = pv.get_reader(str(out / "rollout.pvd"))
    reader.set_active_time_point(4)
    grid = reader.read()[0]
    velocity = grid.point_data["velocity"]
    assert velocity.shape[1] == 3 and {"pressure", "velocity_reference"} <= set(grid.point_data)
    inlet = geometry.channel_with_obstacle(h=0.06).part_nodes("inlet")
    y = grid.points[inlet, 1]
    s = (y - y.min()) / (y.max() - y.min())
    ramp = (0.02 + 0.04) / 0.5  # t / ramp time of the recipe
    expected = 4 * 1.2 * s * (1 - s) * ramp**2 * (3 - 2 * ramp)
    np.testing.assert_allclose(velocity[inlet, 0], expected, atol=1e-6)
    np.testing.assert_allclose(
        velocity[inlet, 0], grid.point_data["velocity_reference"][inlet, 0], atol=1e-6
    )
    # the start-up run, the reference and the residual, each with the penalty for mean
    # speed 1.2 / 1.5
    assert penalties == [pytest.approx(0.2 * 0.8 * 0.1, rel=0.05)] * 3
    reader.set_active_time_point(0)
    start = reader.read()[0]
    assert np.abs(start.point_data["velocity"]).max() > 1e-4  # the start-up run's state, not rest
    np.testing.assert_array_equal(
        start.point_data["velocity"], start.point_data["velocity_reference"]
    )


def test_steady_model_predicts_once_on_a_mesh_file(checkpoints, tmp_path):
    mesh = geometry.rectangle_with_holes(seed=5, h=0.08)
    write_mesh(mesh, tmp_path / "plate.msh")
    out = tmp_path / "poisson"
    code = rollout(
        checkpoints["poisson_holes"],
        out,
        "--mesh",
        str(tmp_path / "plate.msh"),
        "--dirichlet",
        "left=1",
        "--dirichlet",
        "right=-1",
        "--input",
        "source=2",
        "--reference",
        "--no-pictures",
    )
    assert code == 0
    reader = pv.get_reader(str(out / "rollout.pvd"))
    assert list(reader.time_values) == [0.0]
    values = reader.read()[0].point_data
    np.testing.assert_allclose(values["u"][mesh.part_nodes("left")], 1.0)
    assert not list(out.glob("*.png"))


def test_3d_rollout_exports_and_renders(checkpoints, tmp_path):
    out = tmp_path / "box"
    code = rollout(
        checkpoints["poisson_box_holes"],
        out,
        "--geometry",
        "box_with_holes",
        "--h",
        "0.2",
        "--dirichlet",
        "xmin=1",
        "--dirichlet",
        "xmax=0",
        "--reference",
    )
    assert code == 0
    grid = pv.get_reader(str(out / "rollout.pvd")).read()[0]
    assert grid.points.shape[1] == 3 and "u_reference" in grid.point_data
    assert (out / "u_final.png").stat().st_size > 1000


@pytest.fixture
def heat_run(tmp_path):
    """A heat run written as a .pvd time series, standing in for another solver's output."""
    mesh = geometry.rectangle_with_holes(seed=41, h=0.08)
    u = heat(mesh, u0=0.3, dirichlet={"hole_0": 0.9}, dt=0.01, steps=6)
    kappa = np.ones((7, mesh.num_nodes))
    write_time_series(
        mesh, tmp_path / "run" / "heat.pvd", 0.01 * np.arange(7), {"u": u, "kappa": kappa}
    )
    return mesh, u, tmp_path / "run" / "heat.pvd"


def test_replay_of_a_stored_run_starts_from_it_and_compares_with_it(
    checkpoints, heat_run, tmp_path
):
    mesh, u, pvd = heat_run
    rules = tmp_path / "parts.yaml"  # the outer sides are insulated; holes stay dirichlet
    rules.write_text(
        "left: {x: [null, 0.001], role: neumann}\n"
        "right: {x: [0.999, null], role: neumann}\n"
        "sides: {y: [0.999, null], role: neumann}\n"
        "base: {y: [null, 0.001], role: neumann}\nholes: rest\n"
    )
    out = tmp_path / "replay"
    code = rollout(
        checkpoints["heat_holes"], out, "--series", str(pvd), "--parts", str(rules), "--no-pictures"
    )
    assert code == 0
    reader = pv.get_reader(str(out / "rollout.pvd"))
    np.testing.assert_allclose(reader.time_values, 0.01 * np.arange(7))  # the whole run
    reader.set_active_time_point(0)
    np.testing.assert_allclose(reader.read()[0].point_data["u"], u[0], atol=1e-6)  # its start
    reader.set_active_time_point(6)
    values = reader.read()[0].point_data
    np.testing.assert_allclose(values["u_reference"], u[6], atol=1e-6)
    hole = mesh.part_nodes("hole_0")
    np.testing.assert_allclose(values["u"][hole], u[6][hole], atol=1e-6)  # pinned
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["fields"]["u"]["relative_l2"]) == 6 and "solver_s" not in metrics["timings"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--steps", "9"], "--steps is 9 but the series holds 6 step(s)"),
        (["--dirichlet", "hole_0=1"], "drop --dirichlet"),
    ],
)
def test_bad_replays_are_one_sentence(checkpoints, heat_run, tmp_path, capsys, extra, message):
    code = rollout(checkpoints["heat_holes"], tmp_path / "r", "--series", str(heat_run[2]), *extra)
    error = capsys.readouterr().err
    assert code == 2 and message in error and "Traceback" not in error
    assert not (tmp_path / "r").exists()


def test_replay_with_another_time_step_is_refused(checkpoints, tmp_path, capsys):
    mesh = geometry.rectangle_with_holes(seed=41, h=0.1)
    fields = {"u": np.zeros((3, mesh.num_nodes)), "kappa": np.ones((3, mesh.num_nodes))}
    write_time_series(mesh, tmp_path / "coarse.pvd", [0.0, 0.05, 0.1], fields)
    code = rollout(
        checkpoints["heat_holes"], tmp_path / "r", "--series", str(tmp_path / "coarse.pvd")
    )
    error = capsys.readouterr().err
    assert code == 2 and "steps of 0.05 but the model was trained on steps of 0.01" in error


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--dirichlet", "hole_9=1"], "the mesh has no boundary part 'hole_9'"),
        ([], "needs the parts held at prescribed values"),
        (["--dirichlet", "hole_0=1", "--initial", "nan"], "non-finite values"),
        (["--dirichlet", "hole_0=1", "--input", "E=3"], "--input names ['E']"),
        (["--dirichlet", "hole_0=one"], "--dirichlet hole_0 is 'one'; expected a number"),
    ],
)
def test_bad_rollout_requests_are_one_sentence(checkpoints, tmp_path, capsys, extra, message):
    out = tmp_path / "refused"
    code = rollout(
        checkpoints["heat_holes"], out, "--geometry", "rectangle_with_holes", "--h", "0.1", *extra
    )
    error = capsys.readouterr().err
    assert code == 2 and message in error and "Traceback" not in error
    assert not out.exists() and not list(tmp_path.glob(".refused*"))


def test_unreadable_mesh_and_foreign_checkpoint_are_refused(checkpoints, tmp_path, capsys):
    broken = tmp_path / "broken.msh"
    broken.write_text("$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$Nodes\n1 2")
    code = rollout(
        checkpoints["heat_holes"], tmp_path / "a", "--mesh", str(broken), "--dirichlet", "hole_0=1"
    )
    assert code == 2 and "broken.msh" in capsys.readouterr().err
    box = tmp_path / "box.vtu"
    write_mesh(geometry.box_with_holes(holes=[], h=0.5), box)
    code = rollout(
        checkpoints["heat_holes"], tmp_path / "b", "--mesh", str(box), "--dirichlet", "xmin=1"
    )
    assert code == 2 and "the mesh is 3D but the model was trained in 2D" in capsys.readouterr().err
    foreign = tmp_path / "foreign.ckpt"
    foreign.write_bytes(b"\x00" * 64)
    code = rollout(foreign, tmp_path / "c", "--geometry", "annulus", "--dirichlet", "inner=1")
    assert code == 2 and "not a readable surrogate checkpoint" in capsys.readouterr().err
    assert not any((tmp_path / name).exists() for name in "abc")


def test_set_up_from_a_stored_run_on_a_hand_made_series():
    mesh = geometry.rectangle_with_holes(seed=2, h=0.2)
    n = mesh.num_nodes
    steady = schema(False, [("E", 1)], [("d", 2, True)])
    fields = {"E": np.full((n, 1), 3.0), "d": np.arange(2.0 * n).reshape(n, 2)}
    setup = physics.from_series(steady, Sample(mesh, fields))  # steady: no times
    assert setup.initial is None and setup.inputs.shape == (n, 1)
    np.testing.assert_array_equal(setup.reference(1), fields["d"][None])
    np.testing.assert_array_equal(setup.given(1), fields["d"])
    transient = schema(True, [("E", 1)], [("d", 2, True)])
    fields = {"E": np.ones((3, n, 1)), "d": np.arange(6.0 * n).reshape(3, n, 2)}
    setup = physics.from_series(transient, Sample(mesh, fields, np.arange(3.0), {}))
    np.testing.assert_array_equal(setup.initial, fields["d"][0])
    np.testing.assert_array_equal(setup.given(2), fields["d"][1:])
    assert setup.inputs.shape == (3, n, 1)
    wrong = schema(True, [("E", 1)], [("d", 3, True)])
    with pytest.raises(ProblemError, match="field 'd' has 2 component"):
        physics.from_series(wrong, Sample(mesh, fields, np.arange(3.0), {}))


def test_inputs_from_a_formula_or_a_file_and_a_dirichlet_value_for_the_whole_boundary(tmp_path):
    fixture = Path(__file__).parents[1] / "fixtures" / "checkpoints" / "heat_holes.ckpt"
    mesh = geometry.rectangle_with_holes(seed=3, h=0.1)
    kappa = 0.05 + 0.02 * mesh.points[:, 0]
    write_mesh(mesh, tmp_path / "plate.vtu", point_data={"kappa": kappa})  # no parts in .vtu
    states = {}
    for name, given in [("formula", "kappa=0.05+0.02*x"), ("file", f"kappa={tmp_path}/plate.vtu"),
                        ("uniform", "kappa=0.05")]:  # fmt: skip
        out = tmp_path / name
        options = ["--input", given, "--dirichlet", "1", "--steps", "3", "--reference"]
        code = rollout(fixture, out, "--mesh", str(tmp_path / "plate.vtu"), *options)
        assert code == 0
        states[name] = meshio.read(out / "rollout_0003.vtu").point_data
    np.testing.assert_allclose(states["formula"]["u"], states["file"]["u"], atol=1e-6)
    np.testing.assert_allclose(states["formula"]["u_reference"], states["file"]["u_reference"])
    assert not np.allclose(states["formula"]["u_reference"], states["uniform"]["u_reference"])
    boundary = mesh.boundary_nodes  # --dirichlet 1: every boundary node held at 1
    np.testing.assert_allclose(states["formula"]["u_reference"][boundary], 1.0)
