"""Shared helpers: small meshes and the observed-convergence-rate fit."""

from __future__ import annotations

import numpy as np
import pytest

from solvers import Mesh, geometry


def observed_rate(sizes, errors) -> float:
    """Least-squares slope of log(error) against log(h) over all refinements."""
    slope, _ = np.polyfit(np.log(sizes), np.log(errors), 1)
    return float(slope)


def mean_size(mesh: Mesh) -> float:
    return float(mesh.cell_sizes.mean())


def unit_square(h: float) -> Mesh:
    """Unstructured (gmsh) unit square with parts left, right, bottom, top."""
    return geometry.rectangle_with_holes(holes=[], h=h)


def unit_cube(h: float) -> Mesh:
    """Unstructured (gmsh) unit cube with parts xmin, xmax, ..., zmax."""
    return geometry.box_with_holes(holes=[], h=h)


@pytest.fixture
def two_triangles() -> Mesh:
    """The unit square split along its diagonal: 4 nodes, 2 cells, 4 boundary edges."""
    points = [[0, 0], [1, 0], [1, 1], [0, 1]]
    return Mesh(points, [[0, 1, 2], [0, 2, 3]])
