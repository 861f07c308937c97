"""`surrogate solve` on generated geometries and mesh files; errors are one sentence."""

import subprocess
import sys
import xml.etree.ElementTree as ET

import meshio
import numpy as np
import pytest

from solvers import Mesh, geometry, poisson
from surrogate.cli import main


def test_poisson_on_generated_geometry_matches_the_library(tmp_path):
    out = tmp_path / "p"
    assert (
        main(
            [
                "solve",
                "poisson",
                "--geometry",
                "l_shape",
                "--h",
                "0.1",
                "--source",
                "1",
                "--dirichlet",
                "0",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    written = meshio.read(out / "solution.vtu")
    expected = poisson(geometry.l_shape(h=0.1), source=1.0, dirichlet=0.0)
    np.testing.assert_allclose(written.point_data["u"], expected)


def test_heat_writes_a_time_series_paraview_opens(tmp_path):
    out = tmp_path / "h"
    code = main(
        [
            "solve",
            "heat",
            "--geometry",
            "rectangle_with_holes",
            "--seed",
            "1",
            "--h",
            "0.1",
            "--dirichlet",
            "hole_0=sin(pi*t)",
            "--dirichlet",
            "left=0",
            "--dt",
            "0.05",
            "--steps",
            "4",
            "--theta",
            "0.5",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    steps = ET.parse(out / "solution.pvd").getroot().findall("./Collection/DataSet")
    assert [float(s.get("timestep")) for s in steps] == pytest.approx([0, 0.05, 0.1, 0.15, 0.2])
    last = meshio.read(out / steps[-1].get("file"))
    mesh = geometry.rectangle_with_holes(seed=1, h=0.1)
    hole = mesh.part_nodes("hole_0")
    np.testing.assert_allclose(last.point_data["u"][hole], np.sin(np.pi * 0.2))


def test_navier_stokes_writes_velocity_pressure_and_forces(tmp_path):
    out = tmp_path / "flow"
    code = main(
        [
            "solve",
            "navier_stokes",
            "--geometry",
            "channel_with_obstacle",
            "--h",
            "0.1",
            "--inflow-peak",
            "0.3",
            "--dt",
            "0.05",
            "--steps",
            "3",
            "--grad-div",
            "0.01",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    steps = ET.parse(out / "solution.pvd").getroot().findall("./Collection/DataSet")
    assert [float(s.get("timestep")) for s in steps] == pytest.approx([0, 0.05, 0.1, 0.15])
    last = meshio.read(out / steps[-1].get("file"))
    velocity = last.point_data["velocity"]
    assert velocity.shape[1] == 3 and np.all(velocity[:, 2] == 0)  # 3 components for glyphs
    inlet = geometry.channel_with_obstacle(h=0.1).part_nodes("inlet")
    assert velocity[inlet, 0].max() == pytest.approx(0.3, rel=0.05)  # parabola's peak
    assert "pressure" in last.point_data
    table = np.loadtxt(out / "steps.csv", delimiter=",")
    assert table.shape == (3, 4) and table[-1, 1] > 0  # drag on the obstacle


def test_elasticity_from_yaml_config_on_a_mesh_file(tmp_path):
    mesh_file = tmp_path / "plate.msh"
    geometry.rectangle_with_holes(seed=2, h=0.1).write(mesh_file)
    config = tmp_path / "params.yaml"
    config.write_text(
        "E: 210\nnu: 0.3\nplane: stress\ndirichlet: {left: 0}\ntraction: {right: '1, 0'}\n"
    )
    out = tmp_path / "e"
    assert (
        main(
            [
                "solve",
                "elasticity",
                "--mesh",
                str(mesh_file),
                "--config",
                str(config),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    written = meshio.read(out / "solution.vtu")
    assert written.point_data["displacement"].shape == (Mesh.read(mesh_file).num_nodes, 3)
    assert written.point_data["displacement"][:, 0].max() > 0  # pulled to the right
    assert written.point_data["von_mises"].min() >= 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["poisson", "--mesh", "missing.msh"], "missing.msh: no such file"),
        (
            ["poisson", "--geometry", "annulus", "--dirichlet", "inlet=0"],
            "no boundary part 'inlet'",
        ),
        (["poisson", "--geometry", "annulus", "--kappa", "__import__('os')"], "kappa"),
        (["poisson", "--geometry", "annulus"], "not unique"),
        (["heat", "--geometry", "annulus", "--dirichlet", "0", "--dt", "-1"], "dt is -1"),
        (["poisson"], "no domain given"),
        (["navier_stokes", "--geometry", "annulus"], "expected --dirichlet PART=VX,VY"),
        (["navier_stokes", "--geometry", "box_with_holes"], "need a 2D triangle mesh"),
        (["navier_stokes", "--geometry", "dfg_channel", "--viscosity", "0"], "viscosity"),
        (["navier_stokes", "--geometry", "dfg_channel", "--grad-div", "nan"], "grad_div is nan"),
    ],
)
def test_errors_exit_nonzero_with_one_sentence_and_no_output(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["solve", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []  # nothing half-written


def test_existing_output_is_kept_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = [
        "solve",
        "poisson",
        "--geometry",
        "annulus",
        "--h",
        "0.2",
        "--dirichlet",
        "0",
        "--out",
        str(out),
    ]
    assert main(args) == 2 and "--overwrite" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
    assert main([*args, "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["solution.vtu"]


def test_console_script_reports_bad_mesh_without_traceback(tmp_path):
    bad = tmp_path / "bad.msh"
    bad.write_text("$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$Nodes\n3\n1 0 0\n")
    command = [sys.executable, "-m", "surrogate.cli", "solve", "poisson", "--mesh", str(bad)]
    result = subprocess.run(
        [*command, "--out", str(tmp_path / "o")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "bad.msh" in result.stderr and "Traceback" not in result.stderr
