"""Ingesting another solver's time series: round trips, part rules and refusals."""

import meshio
import numpy as np
import pytest

from solvers import geometry, heat
from solvers.mesh_io import write_mesh, write_time_series
from surrogate.cli import main
from surrogate.data.ingest import ingest_series
from surrogate.data.manifest import check_dataset, read_manifest
from surrogate.data.sample import DatasetError, read_sample, sample_path


@pytest.fixture
def series(tmp_path):
    """A heat run of the bundled solver written as .pvd + .vtu, standing in for a user's."""
    mesh = geometry.rectangle_with_holes(seed=3, h=0.15)
    u = heat(mesh, u0=0.0, dirichlet={"hole_0": 1.0, "left": 0.0}, dt=0.1, steps=4)
    gradient = np.stack([u, 2 * u], axis=-1)
    times = 0.1 * np.arange(5)
    write_time_series(mesh, tmp_path / "run" / "out.pvd", times, {"u": u, "g": gradient})
    return mesh, times, u, gradient, tmp_path / "run" / "out.pvd"


def test_pvd_written_by_the_bundled_solver_round_trips(tmp_path, series):
    mesh, times, u, gradient, pvd = series
    out = str(tmp_path / "d")
    assert main(["ingest", str(pvd), "--fields", "u,g", "--pinned", "u", "--out", out]) == 0
    assert check_dataset(tmp_path / "d") == []
    fields = read_manifest(tmp_path / "d")["fields"]
    assert fields["u"]["pinned"] and not fields["g"]["pinned"]
    sample = read_sample(sample_path(tmp_path / "d", 0))
    np.testing.assert_allclose(sample.mesh.points, mesh.points)
    np.testing.assert_array_equal(sample.times, times)
    np.testing.assert_array_equal(sample.fields["u"][..., 0], u)  # exactly: stored in float64
    np.testing.assert_array_equal(sample.fields["g"][..., :2], gradient)


def test_folder_of_vtu_files_with_part_rules(series):
    mesh, _, _, _, pvd = series
    rules = {
        "left": {"x": [None, 1e-9]},
        "outer": {"x": [-1, 2], "y": [None, 1e-9]},
        "rest": "rest",
    }
    sample = ingest_series(pvd.parent, ["u"], rules, dt=0.5)
    np.testing.assert_allclose(sample.times, 0.5 * np.arange(5))
    np.testing.assert_array_equal(sample.mesh.part_nodes("left"), mesh.part_nodes("left"))
    np.testing.assert_array_equal(sample.mesh.part_nodes("outer"), mesh.part_nodes("bottom"))
    assert len(sample.mesh.boundary_parts["rest"]) == len(mesh.boundary_facets) - len(
        mesh.boundary_parts["left"]
    ) - len(mesh.boundary_parts["bottom"])


def test_xdmf_time_series(tmp_path, series, monkeypatch):
    mesh, times, u, _, _ = series
    monkeypatch.chdir(tmp_path)  # meshio writes the .h5 into the working directory
    cells = [("triangle", mesh.cells)]
    with meshio.xdmf.TimeSeriesWriter("flow.xdmf") as writer:
        writer.write_points_cells(mesh.points, cells)
        for t, values in zip(times, u, strict=True):
            writer.write_data(t, point_data={"u": values})
    sample = ingest_series(tmp_path / "flow.xdmf", ["u"])
    np.testing.assert_allclose(sample.fields["u"][..., 0], u, rtol=1e-6, atol=1e-7)


def test_refusals(tmp_path, series, capsys):
    mesh, times, u, _, pvd = series
    with pytest.raises(DatasetError, match="has no point or cell field 'p' \\(it has: g, u\\)"):
        ingest_series(pvd, ["p"])
    bad = u.copy()
    bad[2, 5] = np.nan
    write_time_series(mesh, tmp_path / "nan" / "s.pvd", times, {"u": bad})
    with pytest.raises(DatasetError, match=r"s_0002\.vtu: point field 'u' has NaN"):
        ingest_series(tmp_path / "nan" / "s.pvd", ["u"])
    other = geometry.rectangle_with_holes(seed=4, h=0.15)
    write_mesh(mesh, tmp_path / "moved" / "a_0.vtu", point_data={"u": u[0]})
    write_mesh(other, tmp_path / "moved" / "a_1.vtu", point_data={"u": np.zeros(other.num_nodes)})
    with pytest.raises(DatasetError, match="mesh differs"):
        ingest_series(tmp_path / "moved", ["u"])
    escaping = tmp_path / "run" / "evil.pvd"
    escaping.write_text(
        '<VTKFile><Collection><DataSet file="../../etc/passwd"/></Collection></VTKFile>'
    )
    with pytest.raises(DatasetError, match="outside its folder"):
        ingest_series(escaping, ["u"])
    out = tmp_path / "refused"
    assert main(["ingest", str(pvd), "--fields", "nope", "--out", str(out)]) == 2
    assert "no point or cell field 'nope'" in capsys.readouterr().err and not out.exists()
    assert main(["ingest", str(pvd), "--fields", "u", "--pinned", "g", "--out", str(out)]) == 2
    assert "--pinned names ['g'], which --fields does not list" in capsys.readouterr().err
