"""Residuals of the discrete equations: zero on the solver's own solution, growing with a
perturbation, for each problem."""

import numpy as np
import pytest

from solvers import elasticity, geometry, heat, poisson
from solvers.residuals import elasticity_residual, heat_residual, poisson_residual

MESH = geometry.rectangle_with_holes(seed=2, h=0.08)
KAPPA = 1 + MESH.points[:, 0]
HELD = {"left": 0.0, "hole_0": 1.0}


def bump(size: float) -> np.ndarray:
    return size * np.sin(3 * MESH.points[:, 0]) * np.cos(2 * MESH.points[:, 1])


def grows(relative_of) -> list[float]:
    figures = [float(relative_of(size)) for size in (0.0, 1e-3, 1e-2, 1e-1)]
    assert figures[0] < 1e-10
    assert figures == sorted(figures) and figures[-1] > 1e-3
    return figures


def test_poisson_residual():
    u = poisson(MESH, kappa=KAPPA, source=2.0, dirichlet=HELD)
    grows(lambda size: poisson_residual(MESH, u + bump(size), KAPPA, 2.0, HELD).relative[0])
    residual = poisson_residual(MESH, u + bump(0.1), KAPPA, 2.0, HELD)
    assert np.all(residual.values[0, MESH.part_nodes("left")] == 0)  # prescribed: no residual


def test_heat_residual_of_each_step():
    u = heat(MESH, u0=0.2, kappa=KAPPA, dirichlet=HELD, dt=0.01, steps=4)

    def relative(size):
        perturbed = u.copy()
        perturbed[2] += bump(size)
        return heat_residual(MESH, perturbed, KAPPA, dirichlet=HELD, dt=0.01).relative

    assert relative(0.0).shape == (4,)
    grows(lambda size: relative(size)[1])  # the step into state 2
    assert relative(0.1)[0] < 1e-10  # the steps before it are untouched


@pytest.mark.parametrize("plane", ["stress", "strain"])
def test_elasticity_residual(plane):
    clamp, load = {"left": 0.0}, {"right": (1.0, 0.2)}
    d = elasticity(MESH, E=100.0, nu=0.3, dirichlet=clamp, traction=load, plane=plane)

    def relative(size):
        moved = d + bump(size)[:, None]
        return elasticity_residual(MESH, moved[None], 100.0, 0.3, None, clamp, load, plane)

    assert relative(0.0).values.shape == (1, MESH.num_nodes, 2)
    grows(lambda size: relative(size).relative[0])
