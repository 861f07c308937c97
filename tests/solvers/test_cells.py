"""Cells of any linear type (solvers.cells): edges and faces on tiny hand-made meshes, the
conforming split into simplices, the cell-to-node rule, and a Poisson solve on split
hexahedra converging like one on tetrahedra."""

import itertools

import meshio
import numpy as np
import pytest

from solvers import cells, poisson
from solvers.mesh import Mesh
from solvers.mesh_io import mesh_and_nodes, read_mesh
from solvers.norms import l2_error
from tests.solvers.test_poisson import observed_rate

CUBE = np.array(list(itertools.product((0.0, 1.0), repeat=3)))[:, ::-1]  # x fastest
HEX = [0, 1, 3, 2, 4, 5, 7, 6]  # VTK order of the unit cube's corners in CUBE


def one(kind, points, vertices) -> Mesh:
    return Mesh.from_shapes(np.asarray(points, float), ((kind, np.array([vertices])),))


@pytest.mark.parametrize(
    ("kind", "points", "vertices", "edges", "simplices", "measure"),
    [
        ("quad", [[0, 0], [2, 0], [2, 1], [0, 1]], [0, 1, 2, 3], 4, 2, 2.0),
        ("polygon", [[0, 0], [1, 0], [2, 1], [1, 2], [0, 1]], [0, 1, 2, 3, 4], 5, 3, 2.5),
        ("hexahedron", CUBE, HEX, 12, 6, 1.0),
        (
            "wedge",
            [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [0, 1, 1]],
            [0, 1, 2, 3, 4, 5],
            9,
            3,
            0.5,
        ),
        (
            "pyramid",
            [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0.5, 0.5, 1]],
            [0, 1, 2, 3, 4],
            8,
            2,
            1 / 3,
        ),
    ],
)
def test_one_cell_has_its_own_edges_and_splits_into_simplices_of_its_volume(
    kind, points, vertices, edges, simplices, measure
):
    mesh = one(kind, points, vertices)
    assert len(mesh.edges) == edges  # a quad's 4 sides, a hexahedron's 12, no diagonals
    assert mesh.num_cells == simplices
    assert mesh.cell_volumes.sum() == pytest.approx(measure)
    assert mesh.shapes[0][0] == kind


def test_a_mixed_strip_has_the_edges_of_its_triangles_and_quads():
    points = [[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1], [3, 0.5]]
    shapes = (("quad", np.array([[0, 1, 4, 3], [1, 2, 5, 4]])), ("triangle", np.array([[2, 6, 5]])))
    mesh = Mesh.from_shapes(np.array(points, float), shapes)
    expected = {(0, 1), (1, 2), (0, 3), (1, 4), (2, 5), (3, 4), (4, 5), (2, 6), (5, 6)}
    assert set(map(tuple, mesh.edges.tolist())) == expected
    assert len(mesh.boundary_facets) == 7 and mesh.cell_volumes.sum() == pytest.approx(2.5)


def block(n: int, kind: str, seed: int):
    """An n^3 block of unit-spaced hexahedra (or each cut into two wedges), nodes numbered
    at random so that faces' lowest vertices fall every which way."""
    grid = np.array(list(itertools.product(range(n + 1), repeat=3)), float)[:, ::-1]
    index = lambda i, j, k: i + (n + 1) * (j + (n + 1) * k)  # noqa: E731
    hexes = np.array(
        [
            [
                index(i + a, j + b, k + c)
                for a, b, c in (
                    (0, 0, 0),
                    (1, 0, 0),
                    (1, 1, 0),
                    (0, 1, 0),
                    (0, 0, 1),
                    (1, 0, 1),
                    (1, 1, 1),
                    (0, 1, 1),
                )
            ]
            for i, j, k in itertools.product(range(n), repeat=3)
        ]
    )
    if kind == "wedge":
        hexes = np.concatenate([hexes[:, [0, 1, 2, 4, 5, 6]], hexes[:, [0, 2, 3, 4, 6, 7]]])
    order = np.random.default_rng(seed).permutation(len(grid))
    return grid[np.argsort(order)], order[hexes]


@pytest.mark.parametrize("kind", ["hexahedron", "wedge"])
@pytest.mark.parametrize("seed", range(3))
def test_the_split_is_conforming_and_keeps_the_volume(kind, seed):
    points, data = block(3, kind, seed)
    mesh = Mesh.from_shapes(points, ((kind, data),))
    assert mesh.num_nodes == len(points)  # no points added
    assert mesh.cell_volumes.sum() == pytest.approx(27.0)
    faces = np.sort(np.concatenate([mesh.cells[:, list(f)] for f in cells.FACES["tetra"]]), 1)
    _, counts = np.unique(faces, axis=0, return_counts=True)
    assert set(counts) == {1, 2}  # every face is shared by two tetrahedra or on the boundary
    assert (counts == 1).sum() == 6 * 9 * 2  # only the cube's 54 squares, each as 2 triangles


def test_cell_values_become_node_values_by_volume_weighted_average():
    points = np.array([[0, 0], [1, 0], [3, 0], [0, 1], [1, 1], [3, 1]], float)
    shapes = (("quad", np.array([[0, 1, 4, 3], [1, 2, 5, 4]])),)  # areas 1 and 2
    mesh = Mesh.from_shapes(points, shapes)
    simplices, owner = cells.split(mesh.shapes, mesh.points)
    weights = cells.measures(mesh.points, simplices, owner, 2)
    nodes = cells.to_nodes(np.array([1.0, 4.0]), mesh.shapes, weights, mesh.num_nodes)
    np.testing.assert_allclose(nodes[:, 0], [1, 3, 4, 1, 3, 4])  # (1*1 + 2*4) / 3 = 3


def test_higher_order_cells_keep_their_corners(tmp_path, capsys):
    points = np.array([[0, 0], [1, 0], [0, 1], [0.5, 0], [0.5, 0.5], [0, 0.5]], float)
    raw = meshio.Mesh(points, [("triangle6", np.array([[0, 1, 2, 3, 4, 5]]))])
    mesh, kept = mesh_and_nodes(raw)
    assert mesh.num_nodes == 3 and kept.tolist() == [0, 1, 2]
    assert "triangle6 cells are read by their corner vertices" in capsys.readouterr().err


def test_quads_and_hexahedra_read_from_files_keep_their_cells(tmp_path):
    points, data = block(2, "hexahedron", 0)
    meshio.write(tmp_path / "hex.vtu", meshio.Mesh(points, [("hexahedron", data)]))
    mesh = read_mesh(tmp_path / "hex.vtu")
    assert mesh.shapes[0][0] == "hexahedron" and len(mesh.shapes[0][1]) == 8
    mesh.write(tmp_path / "back.vtu")
    written = meshio.read(tmp_path / "back.vtu")
    assert [b.type for b in written.cells] == ["hexahedron"]
    np.testing.assert_array_equal(written.cells[0].data, mesh.shapes[0][1])


def test_poisson_on_split_hexahedra_converges_at_second_order():
    exact = lambda x: np.sin(np.pi * x[:, 0]) * np.sin(np.pi * x[:, 1]) * x[:, 2]  # noqa: E731
    source = lambda x: 2 * np.pi**2 * exact(x)  # noqa: E731
    sizes, errors = [], []
    for n in (4, 8):
        points, data = block(n, "hexahedron", 1)
        mesh = Mesh.from_shapes(points / n, (("hexahedron", data),))
        u = poisson(mesh, source=source, dirichlet=exact)
        sizes.append(1 / n)
        errors.append(l2_error(mesh, u, exact))
    assert observed_rate(sizes, errors) == pytest.approx(2.0, abs=0.3)
