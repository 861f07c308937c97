"""Elasticity: patch tests (exact linear fields), uniaxial stress, rates, AMG with rigid modes."""

import numpy as np
import pytest

from solvers import ProblemError, SolverOptions, elasticity, von_mises
from solvers.norms import l2_error
from tests.conftest import mean_size, observed_rate, unit_cube, unit_square

A2 = np.array([[0.1, 0.2], [0.3, -0.1]])
A3 = np.array([[0.1, 0.2, 0.0], [0.3, -0.1, 0.05], [-0.2, 0.1, 0.15]])


@pytest.mark.parametrize("plane", ["strain", "stress"])
def test_patch_test_2d(plane):
    mesh = unit_square(0.15)
    linear = lambda x: x @ A2.T + [0.5, -0.25]  # noqa: E731
    u = elasticity(mesh, E=200.0, nu=0.3, dirichlet=linear, plane=plane)
    np.testing.assert_allclose(u, linear(mesh.points), atol=1e-12)


def test_patch_test_3d():
    mesh = unit_cube(0.3)
    linear = lambda x: x @ A3.T  # noqa: E731
    u = elasticity(mesh, E=1.0, nu=0.25, dirichlet=linear)
    np.testing.assert_allclose(u, linear(mesh.points), atol=1e-12)


@pytest.mark.parametrize("plane", ["strain", "stress"])
def test_uniaxial_tension_with_rollers_and_traction(plane):
    """Rollers on left and bottom, traction s on the right: uniform stress sigma_xx = s."""
    mesh, E, nu, s = unit_square(0.2), 210.0, 0.3, 2.0
    u = elasticity(
        mesh,
        E=E,
        nu=nu,
        plane=plane,
        dirichlet={"left": (0.0, None), "bottom": (None, 0.0)},
        traction={"right": (s, 0.0)},
    )
    if plane == "stress":
        exx, eyy = s / E, -nu * s / E
        expected_von_mises = s
    else:  # plane strain: eps_zz = 0, sigma_zz = nu * s
        exx, eyy = (1 - nu**2) * s / E, -nu * (1 + nu) * s / E
        expected_von_mises = s * np.sqrt(1 - nu + nu**2)
    np.testing.assert_allclose(u, mesh.points * [exx, eyy], atol=1e-12)
    np.testing.assert_allclose(von_mises(mesh, u, E, nu, plane), expected_von_mises, rtol=1e-10)


def test_uniaxial_tension_3d():
    mesh, E, nu, s = unit_cube(0.35), 3.0, 0.2, 0.6
    u = elasticity(
        mesh,
        E=E,
        nu=nu,
        dirichlet={"xmin": (0, None, None), "ymin": (None, 0, None), "zmin": (None, None, 0)},
        traction={"xmax": (s, 0, 0)},
    )
    np.testing.assert_allclose(u, mesh.points * [s / E, -nu * s / E, -nu * s / E], atol=1e-12)
    np.testing.assert_allclose(von_mises(mesh, u, E, nu), s, rtol=1e-10)


def test_manufactured_rate_2d():
    """u = (sin(pi x) sin(pi y), x y (1-x)(1-y)) with its body force: L2 rate ~ 2."""
    E, nu = 1.0, 0.3
    lam, mu = E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))
    pi = np.pi

    def exact(x):
        X, Y = x[:, 0], x[:, 1]
        return np.column_stack([np.sin(pi * X) * np.sin(pi * Y), X * Y * (1 - X) * (1 - Y)])

    def body_force(x):
        X, Y = x[:, 0], x[:, 1]
        s, c = np.sin(pi * x), np.cos(pi * x)
        u_xx, u_yy, u_xy = (
            -(pi**2) * s[:, 0] * s[:, 1],
            -(pi**2) * s[:, 0] * s[:, 1],
            pi**2 * c[:, 0] * c[:, 1],
        )
        v_xx, v_yy = -2 * Y * (1 - Y), -2 * X * (1 - X)
        v_xy = (1 - 2 * X) * (1 - 2 * Y)
        fx = -((lam + 2 * mu) * u_xx + mu * u_yy + (lam + mu) * v_xy)
        fy = -((lam + 2 * mu) * v_yy + mu * v_xx + (lam + mu) * u_xy)
        return np.column_stack([fx, fy])

    sizes, errors = [], []
    for h in (0.2, 0.1, 0.05, 0.025):
        mesh = unit_square(h)
        u = elasticity(mesh, E=E, nu=nu, body_force=body_force, dirichlet=0.0)
        sizes.append(mean_size(mesh))
        errors.append(l2_error(mesh, u, exact))
    assert observed_rate(sizes, errors) == pytest.approx(2.0, abs=0.2)


def test_amg_with_rigid_body_modes_matches_direct():
    mesh = unit_square(0.05)
    kw = dict(E=1.0, nu=0.3, dirichlet={"left": 0.0}, traction={"right": (0.0, -1e-3)})
    direct = elasticity(mesh, solver=SolverOptions("direct"), **kw)
    amg = elasticity(mesh, solver=SolverOptions("amg", rtol=1e-10), **kw)
    np.testing.assert_allclose(amg, direct, atol=1e-10)


def test_refusals():
    mesh = unit_square(0.3)
    with pytest.raises(ProblemError, match="rigid motion"):
        elasticity(mesh, traction={"right": (1.0, 0.0)})
    with pytest.raises(ProblemError, match=r"nu is 0\.5"):
        elasticity(mesh, nu=0.5, dirichlet=0.0)
    with pytest.raises(ProblemError, match="E > 0"):
        elasticity(mesh, E=-1.0, dirichlet=0.0)
    with pytest.raises(ProblemError, match="plane"):
        elasticity(mesh, plane="membrane", dirichlet=0.0)
    with pytest.raises(ProblemError, match="shape"):
        elasticity(mesh, dirichlet={"left": (0.0, 0.0, 0.0)})
