"""Heat: orders in time (backward Euler 1, Crank-Nicolson 2), steady limit, factor reuse."""

import numpy as np
import pytest

import solvers.linalg
from solvers import ProblemError, heat, poisson
from tests.conftest import observed_rate, unit_square


def exact(x, t):
    """Linear in space, so P1 with a consistent mass matrix is exact in space and the only
    error left is the time discretisation; source f = du/dt since the Laplacian is zero."""
    return np.sin(t) + np.cos(2 * t) * x[:, 0] + t**2 * x[:, 1]


def source(x, t):
    return np.cos(t) - 2 * np.sin(2 * t) * x[:, 0] + 2 * t * x[:, 1]


@pytest.mark.parametrize("theta, order", [(1.0, 1.0), (0.5, 2.0)])
def test_order_in_time_with_time_dependent_source_and_boundary(theta, order):
    mesh = unit_square(0.25)
    T, errors, steps_list = 1.0, [], (10, 20, 40, 80)
    for steps in steps_list:
        u = heat(
            mesh,
            u0=lambda x: exact(x, 0.0),
            source=source,
            dirichlet={"left": exact, "bottom": exact},
            neumann={
                "right": lambda x, t: np.cos(2 * t) + 0 * x[:, 0],
                "top": lambda x, t: t**2 + 0 * x[:, 0],
            },
            dt=T / steps,
            steps=steps,
            theta=theta,
        )
        errors.append(np.abs(u[-1] - exact(mesh.points, T)).max())
    rate = observed_rate([T / s for s in steps_list], errors)
    assert rate == pytest.approx(order, abs=0.1)


def test_long_run_reaches_the_steady_solution():
    mesh = unit_square(0.1)
    steady = poisson(mesh, source=1.0, dirichlet={"left": 0.0, "right": 1.0})
    u = heat(mesh, u0=0.0, source=1.0, dirichlet={"left": 0.0, "right": 1.0}, dt=0.05, steps=200)
    np.testing.assert_allclose(u[-1], steady, atol=1e-8)
    assert u.shape == (201, mesh.num_nodes)
    np.testing.assert_allclose(u[0, mesh.part_nodes("right")], 1.0)  # u0 takes the boundary values


def test_robin_cooling_decays_to_ambient():
    mesh = unit_square(0.2)
    u = heat(mesh, u0=1.0, robin=(2.0, 0.25), dt=0.1, steps=300)
    np.testing.assert_allclose(u[-1], 0.25, atol=1e-6)
    assert np.all(np.diff(u[:30].mean(axis=1)) < 0)


def test_system_is_factorised_once(monkeypatch):
    calls = []
    original = solvers.linalg.spla.splu
    monkeypatch.setattr(solvers.linalg.spla, "splu", lambda a: calls.append(1) or original(a))
    heat(unit_square(0.2), u0=0.0, source=1.0, dirichlet=0.0, dt=0.1, steps=25)
    assert len(calls) == 1


@pytest.mark.parametrize(
    "kw, match", [({"dt": -1}, "dt"), ({"steps": 0}, "steps"), ({"theta": 0.2}, "theta")]
)
def test_refusals(kw, match):
    with pytest.raises(ProblemError, match=match):
        heat(unit_square(0.3), dirichlet=0.0, **{"dt": 0.1, "steps": 2, **kw})
