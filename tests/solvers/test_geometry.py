"""Generated domains: tagged parts, determinism, refinement near holes, exact areas."""

import numpy as np
import pytest

from solvers import ProblemError, geometry
from solvers.geometry import Hole


def _area(mesh):
    return mesh.cell_volumes.sum()


def test_rectangle_with_holes_parts_area_and_determinism():
    holes = [Hole(0.3, 0.3, 0.1), Hole(0.7, 0.6, 0.12, 0.06, 0.4)]
    mesh = geometry.rectangle_with_holes(holes=holes, h=0.04)
    assert set(mesh.boundary_parts) == {"left", "right", "bottom", "top", "hole_0", "hole_1"}
    hole_area = np.pi * (0.1**2 + 0.12 * 0.06)
    assert _area(mesh) == pytest.approx(1 - hole_area, rel=2e-3)  # polygonal holes
    # hole_0 nodes lie on its circle
    radius = np.linalg.norm(mesh.points[mesh.part_nodes("hole_0")] - [0.3, 0.3], axis=1)
    np.testing.assert_allclose(radius, 0.1, rtol=1e-6)
    a, b = (geometry.rectangle_with_holes(seed=7, n_holes=3, h=0.05) for _ in range(2))
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.cells, b.cells)
    c = geometry.rectangle_with_holes(seed=8, n_holes=3, h=0.05)
    assert a.num_nodes != c.num_nodes or not np.array_equal(a.points, c.points)


def test_cells_are_finer_near_holes():
    mesh = geometry.rectangle_with_holes(holes=[Hole(0.5, 0.5, 0.1)], h=0.05, h_hole=0.01)
    centroids = mesh.points[mesh.cells].mean(axis=1)
    distance = np.linalg.norm(centroids - 0.5, axis=1) - 0.1
    near, far = mesh.cell_sizes[distance < 0.02], mesh.cell_sizes[distance > 0.3]
    assert near.mean() < 0.3 * far.mean()


def test_random_holes_do_not_overlap_and_keep_a_gap():
    holes = geometry.random_holes(seed=3, count=5, radius=(0.05, 0.1), gap=0.03)
    for i, a in enumerate(holes):
        assert a.rx + 0.03 <= min(a.x, a.y, 1 - a.x, 1 - a.y) + 1e-12
        for b in holes[i + 1 :]:
            assert np.hypot(a.x - b.x, a.y - b.y) > a.rx + b.rx + 0.03
    with pytest.raises(ProblemError, match="could not place"):
        geometry.random_holes(seed=0, count=50, radius=(0.2, 0.3))


def test_dfg_channel():
    mesh = geometry.dfg_channel(h=0.05)
    assert set(mesh.boundary_parts) == {"inlet", "outlet", "walls", "obstacle"}
    assert _area(mesh) == pytest.approx(2.2 * 0.41 - np.pi * 0.05**2, rel=1e-3)
    np.testing.assert_allclose(mesh.points[mesh.part_nodes("inlet"), 0], 0.0, atol=1e-12)
    np.testing.assert_allclose(mesh.points[mesh.part_nodes("outlet"), 0], 2.2, atol=1e-12)
    r = np.linalg.norm(mesh.points[mesh.part_nodes("obstacle")] - [0.2, 0.2], axis=1)
    np.testing.assert_allclose(r, 0.05, rtol=1e-6)


def test_l_shape_and_annulus():
    mesh = geometry.l_shape(h=0.05)
    assert set(mesh.boundary_parts) == {"bottom", "left", "right", "top", "notch"}
    assert _area(mesh) == pytest.approx(0.75)
    notch = mesh.points[mesh.part_nodes("notch")]
    assert np.all(
        (np.isclose(notch[:, 0], 0.5) & (notch[:, 1] >= 0.5))
        | (np.isclose(notch[:, 1], 0.5) & (notch[:, 0] >= 0.5))
    )
    ring = geometry.annulus(0.5, 1.0, h=0.05)
    assert set(ring.boundary_parts) == {"inner", "outer"}
    np.testing.assert_allclose(np.linalg.norm(ring.points[ring.part_nodes("inner")], axis=1), 0.5)
    assert _area(ring) == pytest.approx(np.pi * 0.75, rel=5e-3)


def test_box_with_holes_3d():
    mesh = geometry.box_with_holes(holes=[Hole(0.5, 0.5, 0.2, z=0.5)], h=0.15)
    assert mesh.dim == 3
    assert set(mesh.boundary_parts) == {"xmin", "xmax", "ymin", "ymax", "zmin", "zmax", "hole_0"}
    assert _area(mesh) == pytest.approx(1 - 4 / 3 * np.pi * 0.2**3, rel=1e-2)
    r = np.linalg.norm(mesh.points[mesh.part_nodes("hole_0")] - 0.5, axis=1)
    np.testing.assert_allclose(r, 0.2, rtol=1e-6)


def test_bad_sizes_are_refused():
    with pytest.raises(ProblemError, match="positive"):
        geometry.rectangle_with_holes(holes=[Hole(0.5, 0.5, 0.1)], h=-1.0)
