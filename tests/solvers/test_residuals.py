"""Residuals of the discrete equations: zero on the solver's own solution, growing with a
perturbation, for each problem."""

import numpy as np
import pytest

from solvers import dfg, elasticity, geometry, heat, poisson
from solvers.fem import recovered_gradients
from solvers.geometry import channel_with_obstacle
from solvers.navier_stokes import FlowProblem, navier_stokes
from solvers.residuals import (
    elasticity_residual,
    flow_residual,
    heat_residual,
    poisson_residual,
)

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


def close_estimate(residual, error: np.ndarray, states: np.ndarray) -> None:
    """The estimated error field and figure against the known error (S, ...)."""
    for k, (estimated, true) in enumerate(zip(residual.error, error, strict=True)):
        assert np.corrcoef(estimated.ravel(), true.ravel())[0, 1] > 0.99
        relative = np.linalg.norm(true) / np.linalg.norm(states[k])
        assert residual.estimate[k] == pytest.approx(relative, rel=0.1)


def test_the_estimate_recovers_a_steady_error():
    u = poisson(MESH, kappa=KAPPA, source=2.0, dirichlet=HELD)
    error = bump(0.1)
    error[MESH.part_nodes("left")] = error[MESH.part_nodes("hole_0")] = 0  # held exactly
    assert poisson_residual(MESH, u, KAPPA, 2.0, HELD).estimate[0] < 1e-10
    found = poisson_residual(MESH, u + error, KAPPA, 2.0, HELD)
    close_estimate(found, error[None], (u + error)[None])
    clamp, load = {"left": 0.0}, {"right": (1.0, 0.2)}
    d = elasticity(MESH, E=100.0, nu=0.3, dirichlet=clamp, traction=load)
    moved = np.stack([bump(0.01), bump(0.02)], axis=1) * MESH.points[:, :1]  # 0 on the left
    found = elasticity_residual(MESH, (d + moved)[None], 100.0, 0.3, None, clamp, load)
    close_estimate(found, moved[None], (d + moved)[None])


def test_the_estimate_carries_a_trajectorys_error_from_step_to_step():
    u = heat(MESH, u0=0.2, kappa=KAPPA, dirichlet=HELD, dt=0.01, steps=20)
    error = bump(0.05)[None] * np.linspace(0, 1, 21)[:, None]  # grows over the steps
    error[:, MESH.part_nodes("left")] = error[:, MESH.part_nodes("hole_0")] = 0
    found = heat_residual(MESH, u + error, KAPPA, dirichlet=HELD, dt=0.01)
    close_estimate(found, error[1:], (u + error)[1:])  # each step: what it carries and adds


def test_recovered_gradients_are_exact_for_linear_fields():
    x, y = MESH.points.T
    found = recovered_gradients(MESH, np.stack([2 * x + 3 * y, x - y], axis=1))
    np.testing.assert_allclose(found, np.broadcast_to([[2, 3], [1, -1]], found.shape), atol=1e-12)


def test_flow_residual_vanishes_on_couette_flow_and_grows_with_a_perturbation():
    # u = (y, 0), p = 0 solves Navier-Stokes between a still and a sliding wall, and is
    # linear: the vertices determine the P2 field exactly, so the residual is zero.
    mesh = geometry.rectangle_with_holes(holes=[], h=0.2)
    couette = lambda x, t: np.stack([x[:, 1], 0 * x[:, 1]], axis=1)  # noqa: E731
    problem = FlowProblem(mesh, 0.01, {"left": couette, "bottom": (0, 0), "top": (1, 0)})
    velocity = np.stack([couette(mesh.points, 0)] * 3)
    bump = np.sin(3 * mesh.points[:, 0]) * np.cos(2 * mesh.points[:, 1])

    def relative(size):
        moved = velocity.copy()
        moved[2, :, 1] += size * bump
        return flow_residual(problem, moved, np.zeros((3, mesh.num_nodes)), dt=0.01)

    momentum, continuity = relative(0.0)
    assert momentum.values.shape == (2, mesh.num_nodes, 2) and continuity.values.shape == (2, 98)
    grows(lambda size: relative(size)[0].relative[1])
    grows(lambda size: relative(size)[1].relative[1])
    assert relative(0.1)[0].relative[0] < 1e-10  # the step before is untouched


def test_flow_residual_on_the_solvers_states_has_a_floor_below_a_perturbations():
    mesh = channel_with_obstacle(1.6, 0.41, h=0.05, h_obstacle=0.015)
    problem = dfg.problem("2D-2", mesh)
    flow = navier_stokes(problem, 0.01, 30)
    velocity, pressure = flow.velocity[10:], flow.pressure[10:]
    floor = flow_residual(problem, velocity, pressure, 0.01)[0].relative
    assert floor.max() < 0.03  # vertex values of P2 fields, BDF substeps: measured ~1%
    noisy = velocity + 0.1 * np.abs(velocity).max() * np.random.default_rng(0).standard_normal(
        velocity.shape
    )
    assert flow_residual(problem, noisy, pressure, 0.01)[0].relative.min() > 5 * floor.max()


def test_the_flow_estimate_follows_a_growing_velocity_error_above_its_floor():
    mesh = channel_with_obstacle(1.6, 0.41, h=0.05, h_obstacle=0.015)
    problem = dfg.problem("2D-2", mesh)
    flow = navier_stokes(problem, 0.01, 60)
    velocity, pressure = flow.velocity[40:], flow.pressure[40:]
    x, y = mesh.points.T
    bump = np.sin(np.pi * x / 1.6) * np.sin(np.pi * y / 0.41)
    bump[np.concatenate([mesh.part_nodes(p) for p in problem.velocity])] = 0  # held
    growing = np.linspace(0, 1, 21)[:, None, None] * np.ones(2)
    error = 0.05 * np.abs(velocity).max() * bump[None, :, None] * growing
    floor = flow_residual(problem, velocity, pressure, 0.01)[0].estimate
    found = flow_residual(problem, velocity + error, pressure, 0.01)[0]
    true = np.linalg.norm(error, axis=(1, 2)) / np.linalg.norm(velocity + error, axis=(1, 2))
    # this coarse channel's floor: 2.3% (0.3% on the recipe's 2k channel), set at the
    # first step, which lacks the BDF history the solver had
    assert floor.max() < 0.03
    assert found.estimate[-1] == pytest.approx(true[-1], rel=0.2)
    assert np.corrcoef(found.error[-1].ravel(), error[-1].ravel())[0, 1] > 0.8
