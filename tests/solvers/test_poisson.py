"""Poisson: manufactured solutions with observed rates, patch test, exact benchmark values."""

import numpy as np
import pytest

from solvers import MeshError, ProblemError, SolverError, SolverOptions, poisson
from solvers.norms import h1_seminorm_error, l2_error
from tests.conftest import mean_size, observed_rate, unit_cube, unit_square

PI = np.pi


def exact_2d(x):
    return np.sin(PI * x[:, 0]) * np.sin(PI * x[:, 1]) + x[:, 0]


def grad_2d(x):
    s, c = np.sin(PI * x), np.cos(PI * x)
    return np.column_stack([PI * c[:, 0] * s[:, 1] + 1, PI * s[:, 0] * c[:, 1]])


def kappa_2d(x):
    return 1 + x[:, 0] * x[:, 1]


def source_2d(x):
    """-div(kappa grad u) for u = sin(pi x) sin(pi y) + x, kappa = 1 + x y."""
    g = grad_2d(x)
    laplacian = -2 * PI**2 * np.sin(PI * x[:, 0]) * np.sin(PI * x[:, 1])
    return -(x[:, 1] * g[:, 0] + x[:, 0] * g[:, 1] + kappa_2d(x) * laplacian)


def test_manufactured_2d_rates_with_mixed_boundary_conditions():
    """Dirichlet left/bottom, Neumann right, Robin top, variable kappa: L2 ~ 2, H1 ~ 1."""
    alpha = 3.0
    flux_right = lambda x: kappa_2d(x) * grad_2d(x)[:, 0]  # noqa: E731  (n = +x)
    flux_top = lambda x: kappa_2d(x) * grad_2d(x)[:, 1]  # noqa: E731  (n = +y)
    sizes, l2, h1 = [], [], []
    for h in (0.2, 0.1, 0.05, 0.025):
        mesh = unit_square(h)
        u = poisson(
            mesh,
            kappa=kappa_2d,
            source=source_2d,
            dirichlet={"left": exact_2d, "bottom": exact_2d},
            neumann={"right": flux_right},
            robin={"top": (alpha, lambda x: exact_2d(x) + flux_top(x) / alpha)},
        )
        sizes.append(mean_size(mesh))
        l2.append(l2_error(mesh, u, exact_2d))
        h1.append(h1_seminorm_error(mesh, u, grad_2d))
    assert observed_rate(sizes, l2) == pytest.approx(2.0, abs=0.2)
    assert observed_rate(sizes, h1) == pytest.approx(1.0, abs=0.15)
    assert l2[-1] < 2e-3


def test_manufactured_3d_rates():
    exact = lambda x: np.sin(PI * x[:, 0]) * np.sin(PI * x[:, 1]) * np.sin(PI * x[:, 2])  # noqa: E731

    def grad(x):
        s, c = np.sin(PI * x), np.cos(PI * x)
        return PI * np.column_stack(
            [c[:, 0] * s[:, 1] * s[:, 2], s[:, 0] * c[:, 1] * s[:, 2], s[:, 0] * s[:, 1] * c[:, 2]]
        )

    sizes, l2, h1 = [], [], []
    for h in (0.3, 0.15, 0.075):
        mesh = unit_cube(h)
        u = poisson(mesh, source=lambda x: 3 * PI**2 * exact(x), dirichlet=0.0)
        sizes.append(mean_size(mesh))
        l2.append(l2_error(mesh, u, exact))
        h1.append(h1_seminorm_error(mesh, u, grad))
    assert observed_rate(sizes, l2) == pytest.approx(2.0, abs=0.3)
    assert observed_rate(sizes, h1) == pytest.approx(1.0, abs=0.2)


@pytest.mark.parametrize("make_mesh, h", [(unit_square, 0.15), (unit_cube, 0.3)])
def test_patch_test_reproduces_linear_fields(make_mesh, h):
    mesh = make_mesh(h)
    linear = lambda x: 1 + x @ np.arange(2.0, 2.0 + mesh.dim)  # noqa: E731
    u = poisson(mesh, kappa=2.5, source=0.0, dirichlet=linear)
    np.testing.assert_allclose(u, linear(mesh.points), atol=1e-12)


def test_unit_square_benchmark_maximum():
    """-Laplace u = 1 on the unit square, u = 0 on the boundary: max u = 0.0736713."""
    u = poisson(unit_square(0.01), source=1.0, dirichlet=0.0)
    assert u.max() == pytest.approx(0.0736713, abs=1e-4)


def test_coefficient_forms_agree():
    """A constant given as scalar, per-node, per-cell or callable gives the same solution."""
    mesh = unit_square(0.2)
    expected = poisson(mesh, kappa=2.0, source=1.0, dirichlet=0.0)
    for kappa in (
        np.full(mesh.num_nodes, 2.0),
        np.full(mesh.num_cells, 2.0),
        lambda x: 2 + 0 * x[:, 0],
    ):
        for source in (np.ones(mesh.num_nodes), np.ones(mesh.num_cells), lambda x: 1 + 0 * x[:, 0]):
            u = poisson(mesh, kappa=kappa, source=source, dirichlet=0.0)
            np.testing.assert_allclose(u, expected, atol=1e-13)


def test_amg_matches_direct_and_meets_tolerance():
    mesh = unit_square(0.05)
    direct = poisson(mesh, source=1.0, dirichlet=0.0, solver=SolverOptions("direct"))
    amg = poisson(mesh, source=1.0, dirichlet=0.0, solver=SolverOptions("amg", rtol=1e-10))
    np.testing.assert_allclose(amg, direct, atol=1e-9)


def test_iterative_solver_that_does_not_converge_raises():
    with pytest.raises(SolverError, match="did not converge"):
        poisson(
            unit_square(0.05), source=1.0, dirichlet=0.0, solver=SolverOptions("amg", maxiter=1)
        )


def test_refusals():
    mesh = unit_square(0.25)
    with pytest.raises(ProblemError, match="not unique"):
        poisson(mesh, source=1.0, neumann=1.0)
    with pytest.raises(ProblemError, match="NaN"):
        poisson(mesh, source=np.full(mesh.num_nodes, np.nan), dirichlet=0.0)
    with pytest.raises(ProblemError, match="shape"):
        poisson(mesh, kappa=np.ones(7), dirichlet=0.0)
    with pytest.raises(MeshError, match=r"no boundary part 'inlet'.*left"):
        poisson(mesh, dirichlet={"inlet": 0.0})
    with pytest.raises(ProblemError, match="unknown"):
        SolverOptions("cholesky")
