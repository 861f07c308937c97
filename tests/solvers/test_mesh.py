"""Mesh: exact topology on hand-made meshes, reading/writing, and every refusal."""

import meshio
import numpy as np
import pytest

from solvers import Mesh, MeshError
from solvers.mesh_io import write_time_series
from tests.conftest import unit_cube, unit_square

TRIANGLES = np.array([[0, 1, 2], [0, 2, 3]])
SQUARE = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])


def test_two_triangles_topology(two_triangles):
    mesh = two_triangles
    assert (mesh.dim, mesh.num_nodes, mesh.num_cells) == (2, 4, 2)
    np.testing.assert_allclose(mesh.cell_volumes, [0.5, 0.5])
    expected_boundary = {(0, 1), (1, 2), (2, 3), (0, 3)}
    assert {tuple(f) for f in mesh.boundary_facets} == expected_boundary
    np.testing.assert_array_equal(mesh.boundary_nodes, [0, 1, 2, 3])
    assert {tuple(e) for e in mesh.edges} == expected_boundary | {(0, 2)}


def test_single_tetrahedron():
    mesh = Mesh(np.vstack([np.zeros(3), np.eye(3)]), [[0, 1, 2, 3]])
    assert mesh.cell_volumes[0] == pytest.approx(1 / 6)
    assert len(mesh.boundary_facets) == 4 and len(mesh.edges) == 6


def test_orientation_and_orphans_are_normalised():
    points = np.vstack([SQUARE, [[5.0, 5.0]]])  # node 4 belongs to no cell
    mesh = Mesh(points, [[0, 2, 1], [0, 2, 3]], {"bottom": [[0, 1]]})  # first cell clockwise
    assert mesh.num_nodes == 4 and (mesh.cell_volumes > 0).all()
    with pytest.raises(ValueError):
        mesh.points[0, 0] = 1.0  # immutable


def test_every_boundary_facet_of_a_generated_mesh_is_in_a_part():
    for mesh in (unit_square(0.2), unit_cube(0.4)):
        tagged = np.sort(np.concatenate(list(mesh.boundary_parts.values())), axis=1)
        assert {tuple(f) for f in tagged} == {tuple(f) for f in mesh.boundary_facets}


@pytest.mark.parametrize("suffix", [".msh", ".vtu"])
def test_write_read_round_trip(tmp_path, suffix):
    mesh = unit_square(0.2)
    mesh.write(tmp_path / f"m{suffix}")
    back = Mesh.read(tmp_path / f"m{suffix}")
    np.testing.assert_allclose(back.points, mesh.points)  # z column dropped
    np.testing.assert_array_equal(back.cells, mesh.cells)
    if suffix == ".msh":  # gmsh physical groups come back as named parts
        assert set(back.boundary_parts) == set(mesh.boundary_parts)
        for name, facets in mesh.boundary_parts.items():
            np.testing.assert_array_equal(back.boundary_parts[name], facets)


def test_vtu_carries_point_and_cell_fields_msh_refuses_them(tmp_path):
    mesh = unit_square(0.3)
    mesh.write(
        tmp_path / "f.vtu", point_data={"v": mesh.points}, cell_data={"a": mesh.cell_volumes}
    )
    written = meshio.read(tmp_path / "f.vtu")
    np.testing.assert_allclose(written.point_data["v"][:, :2], mesh.points)  # padded to 3D
    np.testing.assert_allclose(written.cell_data["a"][0], mesh.cell_volumes)
    with pytest.raises(ValueError, match=r"write fields to \.vtu"):
        mesh.write(tmp_path / "f.msh", cell_data={"a": mesh.cell_volumes})
    assert not (tmp_path / "f.msh").exists()


def test_time_series_names_every_step(tmp_path):
    mesh = unit_square(0.3)
    u = np.random.default_rng(0).random((3, mesh.num_nodes))
    files = write_time_series(mesh, tmp_path / "run", [0.0, 0.5, 1.0], {"u": u})
    assert [f.name for f in files] == ["run_0000.vtu", "run_0001.vtu", "run_0002.vtu", "run.pvd"]
    pvd = (tmp_path / "run.pvd").read_text()
    assert 'timestep="0.5"' in pvd and 'file="run_0002.vtu"' in pvd
    np.testing.assert_allclose(meshio.read(tmp_path / "run_0001.vtu").point_data["u"], u[1])


def _write(tmp_path, name, points, cells):
    path = tmp_path / name
    meshio.write(path, meshio.Mesh(points, cells))
    return path


def _text(folder, name, content: str | bytes):
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _truncated_msh(tmp_path):
    unit_square(0.2).write(tmp_path / "full.msh")
    text = (tmp_path / "full.msh").read_text()
    (tmp_path / "cut.msh").write_text(text[: len(text) // 2])
    return tmp_path / "cut.msh"


P3 = np.column_stack([SQUARE, np.zeros(4)])
BAD_FILES = {
    "truncated .msh": (_truncated_msh, "cannot be read"),
    "no end markers": (
        lambda d: _text(d, "a.msh", "$MeshFormat\n2.2 0 8\n"),
        "cannot be read|no cells",
    ),
    "parses to nothing": (
        lambda d: _text(d, "header.msh", "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n"),
        "contains no cells",
    ),
    "empty file": (lambda d: _text(d, "e.vtu", b""), "cannot be read"),
    "garbage": (lambda d: _text(d, "g.vtu", b"\x00\xffnot xml"), "cannot be read"),
    "inverted quad": (
        lambda d: _write(d, "bow.vtu", P3, [("quad", [[0, 1, 3, 2]])]),
        "quad cell 0 .* is non-convex, non-planar, inverted or has repeated vertices",
    ),
    "quad with a repeated vertex": (
        lambda d: _write(d, "rep.vtu", P3, [("quad", [[0, 1, 2, 2]])]),
        "repeated vertices",
    ),
    "NaN coordinates": (
        lambda d: _write(
            d,
            "nan.vtu",
            np.where(np.arange(12).reshape(4, 3) == 0, np.nan, P3),
            [("triangle", TRIANGLES)],
        ),
        "NaN",
    ),
    "zero-area cell": (
        lambda d: _write(
            d, "flat.vtu", np.vstack([P3, [[2, 0, 0]]]), [("triangle", [[0, 1, 2], [0, 1, 4]])]
        ),
        "zero area",
    ),
    "index out of range": (
        lambda d: _write(d, "idx.vtu", P3, [("triangle", [[0, 1, 2], [0, 2, 7]])]),
        "out of range|cannot be read",
    ),
    "surface in 3D": (
        lambda d: _write(
            d,
            "s.vtu",
            P3 + np.array([[0, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]]),
            [("triangle", TRIANGLES)],
        ),
        "surface",
    ),
    "only lines": (lambda d: _write(d, "l.vtu", P3, [("line", [[0, 1]])]), "no cells"),
    "unknown extension": (lambda d: _text(d, "m.foo", "x"), "unsupported extension"),
    "missing file": (lambda d: d / "absent.msh", "no such file"),
    "xdmf outside folder": (
        lambda d: _text(
            d,
            "x.xdmf",
            '<Xdmf><Domain><Grid><Geometry><DataItem Format="HDF">/etc/x.h5:/data</DataItem>'
            "</Geometry></Grid></Domain></Xdmf>",
        ),
        "outside its folder",
    ),
    "xdmf binary outside folder": (
        lambda d: _text(
            d,
            "b.xdmf",
            '<Xdmf><Domain><Grid><Geometry><DataItem Format="Binary">/etc/passwd</DataItem>'
            "</Geometry></Grid></Domain></Xdmf>",
        ),
        "outside its folder",
    ),
    "xdmf hdf5 of another extension": (
        lambda d: _text(
            d,
            "h.xdmf",
            '<Xdmf><Domain><Grid><Geometry><DataItem Format="HDF">../x.H5:/data</DataItem>'
            "</Geometry></Grid></Domain></Xdmf>",
        ),
        "outside its folder",
    ),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_files_are_refused_with_one_sentence(tmp_path, case):
    make, match = BAD_FILES[case]
    path = make(tmp_path)
    with pytest.raises(MeshError, match=match) as error:
        Mesh.read(path)
    message = str(error.value)
    assert str(path) in message and "\n" not in message


def test_bad_arrays_are_refused():
    with pytest.raises(MeshError, match="shape"):
        Mesh(SQUARE, [[0, 1, 2, 3]])
    with pytest.raises(MeshError, match="integer"):
        Mesh(SQUARE, [[0.0, 1.0, 2.0]])
    with pytest.raises(MeshError, match="out of range"):
        Mesh(SQUARE, [[0, 1, -1]])
    with pytest.raises(MeshError, match="belong to no cell"):
        Mesh(np.vstack([SQUARE, [[3.0, 3.0]]]), TRIANGLES, {"x": [[3, 4]]})
