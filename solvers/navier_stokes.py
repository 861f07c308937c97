"""Incompressible Navier-Stokes on triangle meshes with Taylor-Hood P2-P1 elements.

    du/dt + (u . grad) u - nu laplace u + grad p = 0,   div u = 0

Boundary parts named in `velocity` get Dirichlet velocities (walls, obstacles, inflow
profiles that may depend on time); every other boundary part is a do-nothing outflow
(nu du/dn - p n = 0). `steady_navier_stokes` solves the stationary problem by Newton's
method. `navier_stokes` integrates in time with linearly implicit BDF schemes (order 1-3,
default 3): the convection is linearised by one Newton step about the velocity w
extrapolated from the previous steps (2 u^n - u^(n-1) for order 2),

    N(u^(n+1)) ~ C(w) u^(n+1) + C(u^(n+1)) w - C(w) w,

so each step is one linear saddle-point solve with a linearisation error of higher order
than the scheme's. Measured on the DFG channel at Re 100 (1k vertices): taking only
C(w) u^(n+1) (the usual Oseen step) went unstable above CFL 0.6, because the perturbation
of the convecting velocity acting on the steep gradients at the cylinder is then
extrapolated explicitly; the Newton form keeps it implicit and ran stably at CFL 1.9 with
drag within 0.05% of a run with 5x smaller steps. Each step factorises its matrix:
recycling an earlier step's LU as a GMRES preconditioner needed 6-15 iterations per step
and saved at most 1.6x, not worth its complexity.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from solvers.errors import ProblemError, SolverError
from solvers.flow_system import FlowSystem, Velocity
from solvers.mesh import Mesh
from solvers.taylor_hood import Projection, TaylorHood, require_triangles

# Largest max(|u| dt / h) a step may take; larger saved intervals are split into substeps.
# The scheme is stable beyond it: the limit is for accuracy. Measured on the DFG 2D-2 case
# (1.8k vertices, 3 shedding periods): the maximal lift coefficient is 2.3% above the
# small-step value at CFL 2.9 with BDF3 (3.6% below with BDF2) and 0.2% at CFL 1.5 (BDF2
# 0.9%), errors no larger than the spatial error of meshes this coarse.
DEFAULT_MAX_CFL = 3.0
DEFAULT_ORDER = 3
DIVERGED_SPEED_FACTOR = 100.0  # speeds beyond this many times the boundary speed diverged


@dataclass(frozen=True)
class FlowProblem:
    """Viscosity, Dirichlet velocities by part, the part whose force is recorded, the
    boundary parts that are curves (by their projections, see TaylorHood), and the grad-div
    penalty gamma (m^2/s, like nu) that adds gamma (div u, div v) to the momentum equation.

    The penalty vanishes on the exact solution. Taylor-Hood velocities are only weakly
    divergence-free; where a mesh is coarse for the flow (a wake at cell Reynolds numbers
    of 50-200) the unpenalised scheme can blow up. Measured on the cylinder_flow recipe's
    2k-vertex meshes: two of 30 samples (Re 155 and 190) diverged at t ~ 1.2 s without it
    and ran all 600 steps with gamma = 0.1 x mean speed x diameter (the recipe takes 0.2).
    """

    mesh: Mesh
    nu: float
    velocity: Mapping[str, Velocity]
    force_part: str | None = None
    curved: Mapping[str, Projection] = field(default_factory=dict)
    grad_div: float = 0.0

    def __post_init__(self) -> None:
        require_triangles(self.mesh)
        if not (np.isfinite(self.nu) and self.nu > 0):
            raise ProblemError(f"viscosity nu is {self.nu}; expected a positive number.")
        if not (np.isfinite(self.grad_div) and self.grad_div >= 0):
            raise ProblemError(
                f"grad_div is {self.grad_div}; expected a penalty of zero or more (m^2/s)."
            )
        if not self.velocity:
            raise ProblemError(
                "no velocity boundary condition given; expected walls or an inflow by part."
            )
        force_part = [self.force_part] if self.force_part else []
        for part in [*self.velocity, *force_part, *self.curved]:
            self.mesh.part_nodes(part)  # raises naming the known parts


@dataclass(frozen=True)
class FlowState:
    """A steady solution: P2 velocity (n, 2), P1 pressure (N,), force on force_part."""

    space: TaylorHood
    velocity_p2: np.ndarray
    pressure: np.ndarray
    force: np.ndarray | None

    @property
    def velocity(self) -> np.ndarray:
        """(N, 2) velocity at the mesh vertices."""
        return self.velocity_p2[: self.space.mesh.num_nodes]


@dataclass(frozen=True)
class FlowHistory:
    """A transient run.

    times (T,), velocity_p2 (T, n, 2) and pressure (T, N) at the saved steps (initial state
    first); step_times (S,), forces (S, 2) and cfl (S,) at every internal time step.
    """

    space: TaylorHood
    times: np.ndarray
    velocity_p2: np.ndarray
    pressure: np.ndarray
    step_times: np.ndarray
    forces: np.ndarray
    cfl: np.ndarray

    @property
    def velocity(self) -> np.ndarray:
        """(T, N, 2) velocity at the mesh vertices."""
        return self.velocity_p2[:, : self.space.mesh.num_nodes]


def parabolic_inflow(peak: float, low: float, high: float) -> Velocity:
    """Velocity callable (x, t) -> (P, 2): a parabola in y across [low, high] with the
    given peak, along +x (a channel inflow)."""
    width = high - low

    def inflow(x: np.ndarray, t: float = 0.0) -> np.ndarray:
        s = (x[:, 1] - low) / width
        return np.stack([4 * peak * s * (1 - s), np.zeros(len(x))], axis=1)

    return inflow


def force_coefficients(force: np.ndarray, mean_speed: float, length: float) -> np.ndarray:
    """Drag and lift coefficients 2 F / (U^2 L) (unit density)."""
    return 2.0 * np.asarray(force) / (mean_speed**2 * length)


# ---- steady -------------------------------------------------------------------------------
def steady_navier_stokes(
    problem: FlowProblem, tol: float = 1e-10, max_iterations: int = 25
) -> FlowState:
    """Newton's method from the Stokes solution; stops when the update is below tol times
    the velocity scale, and raises SolverError if that takes more than max_iterations."""
    system = FlowSystem(problem)
    stokes, zero = system.stokes(0.0), np.zeros(system.size)
    x = system.solve(stokes, zero, system.fixed_values(None))
    for _ in range(max_iterations):
        local = system.space.local_convection_jacobian(system.split(x)[0])
        # N(u) = J(u) u / 2: the residual S x + N(u) is (S + J / 2) x
        residual = system.matrix(0.0, 0.5 * local) @ x
        delta = system.solve(system.matrix(0.0, local), -residual, 0.0)
        x = x + delta
        if not np.all(np.isfinite(x)):
            break
        if np.abs(delta).max() <= tol * max(1.0, np.abs(x[: 2 * system.n]).max()):
            u, p = system.split(x)
            residual_matrix = system.matrix(0.0, 0.5 * system.space.local_convection_jacobian(u))
            force = system.force(residual_matrix, x, zero)
            return FlowState(system.space, u, system.normalised(p), force)
    raise SolverError(
        f"Newton's method for steady Navier-Stokes did not converge in {max_iterations} "
        f"iterations (nu = {problem.nu}); expected a Reynolds number with a steady solution."
    )


# ---- transient ----------------------------------------------------------------------------
MAX_SUBSTEPS = 10_000  # per saved step: more means dt is far too large for the flow


def navier_stokes(
    problem: FlowProblem,
    dt: float,
    steps: int,
    u0: np.ndarray | None = None,
    max_cfl: float = DEFAULT_MAX_CFL,
    t0: float = 0.0,
    order: int = DEFAULT_ORDER,
) -> FlowHistory:
    """Integrate from u0 (P2 values (n, 2), or vertex values (N, 2) interpolated, default
    rest) and save every dt for steps steps (the pressure of the initial state, which the
    scheme does not need, is saved as zero).

    A saved interval is split into k equal substeps, k chosen from the measured velocity
    so that max |u| dt / h stays below max_cfl (k never decreases; a change restarts the
    BDF scheme of the given order (1-3) from order 1). A run whose velocity stops being
    finite or grows past DIVERGED_SPEED_FACTOR times the boundary and initial speeds
    raises SolverError.
    """
    _check_transient(dt, steps, max_cfl, order)
    system = FlowSystem(problem)
    integrator = _Integrator(system, system.initial(u0, t0), order)
    times = t0 + dt * np.arange(steps + 1)
    velocity = np.empty((steps + 1, system.n, 2))
    pressure = np.zeros((steps + 1, problem.mesh.num_nodes))
    velocity[0] = integrator.history[-1]
    substeps = 1
    for i in range(steps):
        boundary = system.fixed_values(times[i + 1])
        integrator.reference_speed = max(integrator.reference_speed, np.abs(boundary).max())
        speed = max(system.cfl_rate(velocity[i]), np.abs(boundary).max() / system.h_min)
        courant = dt * speed / max_cfl
        if not courant <= MAX_SUBSTEPS:  # NaN or inf included
            raise ProblemError(
                f"at t = {times[i]:g}, dt = {dt:g} would need {courant:.3g} substeps to keep the "
                f"Courant number below max_cfl = {max_cfl:g}; expected a smaller dt (at most "
                f"{MAX_SUBSTEPS:,} substeps per step)."
            )
        needed = max(substeps, math.ceil(courant - 1e-9))
        if needed != substeps:
            substeps, integrator.history = needed, integrator.history[-1:]
        for k in range(substeps):
            u, p = integrator.step(times[i] + (k + 1) * dt / substeps, dt / substeps)
        velocity[i + 1], pressure[i + 1] = u, p
    record = np.array(integrator.record).reshape(-1, 4)
    return FlowHistory(
        system.space, times, velocity, pressure, record[:, 0], record[:, 1:3], record[:, 3]
    )


# BDF coefficients of u^(n+1), u^n, u^(n-1), ... and the extrapolation of w from u^n, ...
BDF = {
    1: ([1.0, -1.0], [1.0]),
    2: ([1.5, -2.0, 0.5], [2.0, -1.0]),
    3: ([11 / 6, -3.0, 1.5, -1 / 3], [3.0, -3.0, 1.0]),
}


class _Integrator:
    """Linearly implicit BDF state: the last velocities and the per-step record."""

    def __init__(self, system: FlowSystem, u0: np.ndarray, order: int) -> None:
        self.system, self.order = system, order
        self.history = [u0]  # newest last
        self.reference_speed = float(np.abs(u0).max())
        self.record: list[tuple[float, float, float, float]] = []

    def step(self, t_next: float, dt: float) -> tuple[np.ndarray, np.ndarray]:
        system = self.system
        # Start with lower orders until enough steps exist.
        alpha, extrapolation = BDF[min(self.order, len(self.history))]
        previous = self.history[::-1]  # u^n, u^(n-1), ...
        shift = alpha[0] / dt
        weighted = -sum(a * u for a, u in zip(alpha[1:], previous, strict=False)) / dt
        convecting = sum(e * u for e, u in zip(extrapolation, previous, strict=False))
        # N(u+) ~ N(w) + J(w) (u+ - w) = J(w) u+ - N(w), as N(w) = J(w) w / 2
        local, convection = system.space.linearised_convection(convecting)
        matrix = system.matrix(shift, local)
        rhs = np.zeros(system.size)
        rhs[: 2 * system.n] = (system.mass @ weighted + convection).T.ravel()
        x = system.solve(matrix, rhs, system.fixed_values(t_next))
        u_next, p_next = system.split(x)
        cfl = system.cfl_rate(u_next) * dt
        if not (np.all(np.isfinite(u_next)) and self._bounded(u_next)):
            raise SolverError(
                f"the flow diverged at t = {t_next:.6g}: max |u| = "
                f"{np.abs(u_next).max():.3g} at CFL {cfl:.3g}; expected a stable run (use a "
                "smaller time step or max_cfl, a finer mesh, or a grad-div penalty)."
            )
        force = system.force(matrix, x, rhs)
        self.record.append((t_next, *(force if force is not None else (np.nan, np.nan)), cfl))
        self.history = [*self.history, u_next][-self.order :]
        return u_next, system.normalised(p_next)

    def _bounded(self, u: np.ndarray) -> bool:
        limit = DIVERGED_SPEED_FACTOR * self.reference_speed
        return limit == 0 or np.abs(u).max() <= limit


def _check_transient(dt: float, steps: int, max_cfl: float, order: int) -> None:
    if order not in BDF:
        raise ProblemError(f"order is {order}; expected a BDF order of 1, 2 or 3.")
    if not (np.isfinite(dt) and dt > 0):
        raise ProblemError(f"dt is {dt}; expected a positive time step.")
    if int(steps) != steps or steps < 1:
        raise ProblemError(f"steps is {steps}; expected a positive whole number.")
    if not (np.isfinite(max_cfl) and max_cfl > 0):
        raise ProblemError(f"max_cfl is {max_cfl}; expected a positive CFL number.")
