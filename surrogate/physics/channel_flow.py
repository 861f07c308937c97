"""Incompressible flow past an obstacle in a channel (cylinder_flow): a parabolic inflow
ramped up from rest on `inlet`, no slip on `walls` and `obstacle`, `outlet` free."""

from __future__ import annotations

import numpy as np

from solvers import Mesh, dfg, geometry
from solvers.errors import ProblemError
from solvers.navier_stokes import FlowProblem, navier_stokes, parabolic_inflow
from solvers.residuals import flow_residual
from solvers.taylor_hood import circular_parts
from surrogate.data.sample import Sample
from surrogate.model.schema import Schema
from surrogate.node_types import ROLE_OF_NAME
from surrogate.physics.family import (
    Family,
    RolloutValues,
    Setup,
    after_initial,
    draw,
    initial_state,
    middle,
    number,
)
from surrogate.physics.parameters import (
    COURANT,
    DURATION,
    HOLE_RADIUS,
    LENGTH,
    PENALTY,
    SPEED_RATIO,
    TIME,
    VISCOSITY,
)
from surrogate.values import CELL_SIZE

PEAK_PER_MEAN = 1.5  # a parabolic profile's peak over its mean speed
ROLES = {"inlet": "inflow", "outlet": "outflow", "walls": "wall", "obstacle": "obstacle"}


def channel_velocity(mesh: Mesh, inflow) -> dict:
    """Velocities by part: `inflow` on the inlet, no slip on the walls and obstacle (those
    the mesh has)."""
    walls = [part for part in ("walls", "obstacle") if part in mesh.boundary_parts]
    return {"inlet": inflow, **dict.fromkeys(walls, (0.0, 0.0))}


def draw_cylinder_flow(params: dict, rng: np.random.Generator) -> Sample:
    """Flow past a cylinder of random position and size in a channel, Reynolds number
    drawn from a range, inflow ramped up smoothly over `ramp` seconds from rest; the states
    are saved from `record_from` seconds on."""
    length, height = params["length"], params["height"]
    radius = draw(params["radius"], rng)
    x, y = draw(params["center_x"], rng), draw(params["center_y"], rng)
    reynolds, nu = draw(params["reynolds"], rng), params["viscosity"]
    mean_speed = reynolds * nu / (2 * radius)
    drawn = {"radius": radius, "center": [x, y], "reynolds": reynolds, "mean_speed": mean_speed}
    obstacle = geometry.Hole(x, y, radius)
    mesh = geometry.channel_with_obstacle(
        length, height, obstacle, params["h"], params["h_obstacle"]
    )
    inflow = ramped(parabolic_inflow(PEAK_PER_MEAN * mean_speed, 0.0, height), params["ramp"])
    penalty = grad_div_penalty(params, mean_speed, 2 * radius)
    problem = FlowProblem(
        mesh, nu, channel_velocity(mesh, inflow), "obstacle", circular_parts(mesh), penalty
    )
    start = record_start(params)
    flow = navier_stokes(problem, params["dt"], start + params["steps"], max_cfl=params["max_cfl"])
    recorded = flow.step_times > flow.times[start]
    drawn["drag_lift_max"] = (
        dfg.force_coefficients(flow.forces[recorded], mean_speed, 2 * radius).max(axis=0).tolist()
    )
    fields = {"velocity": flow.velocity[start:], "pressure": flow.pressure[start:, :, None]}
    return Sample(
        mesh, fields, flow.times[start:], {"parameters": drawn, "part_roles": dict(ROLES)}
    )


def pose(schema: Schema, mesh: Mesh, values: RolloutValues) -> Setup:
    """Peak inflow speed from --dirichlet inlet=PEAK, default the recipe's mid-range
    Reynolds number and radius. The rollout starts where the recipe's trajectories do, at
    its `record_from` time, from the reference solver's state there (from rest) or from
    the given initial velocity."""
    params = schema.parameters
    roles = {p: ROLE_OF_NAME.get(p) for p in mesh.boundary_parts}
    missing = set(ROLES) - set(mesh.boundary_parts)
    if missing or None in roles.values():
        raise ProblemError(
            f"a cylinder_flow model needs boundary parts inlet, outlet, walls and obstacle "
            f"(the mesh has {', '.join(mesh.boundary_parts)})."
        )
    unknown = set(values.dirichlet) - {"inlet"}
    if unknown:
        raise ProblemError(
            f"--dirichlet names {', '.join(sorted(unknown))}; a cylinder_flow model takes "
            "only the peak inflow speed, --dirichlet inlet=PEAK."
        )
    nodes = mesh.part_nodes("inlet")
    inlet_y = mesh.points[nodes, 1]
    if "inlet" in values.dirichlet:
        peak = number(values.dirichlet["inlet"], "--dirichlet inlet")
    else:
        diameter = 2 * middle(params["radius"])
        peak = PEAK_PER_MEAN * middle(params["reynolds"]) * params["viscosity"] / diameter
    inflow = ramped(parabolic_inflow(peak, inlet_y.min(), inlet_y.max()), params["ramp"])
    obstacle_y = mesh.points[mesh.part_nodes("obstacle"), 1]
    size = float(obstacle_y.max() - obstacle_y.min())
    penalty = grad_div_penalty(params, peak / PEAK_PER_MEAN, size)
    dt, startup_steps = schema.dt, record_start(params)
    start = startup_steps * dt

    def given(steps: int) -> np.ndarray:
        prescribed = np.zeros((steps, mesh.num_nodes, 3))  # velocity (2), pressure (free)
        for k in range(steps):
            prescribed[k, nodes, :2] = inflow(mesh.points[nodes], start + dt * (k + 1))
        return prescribed  # walls and obstacle: zero

    def flow(steps: int, u0=None, t0: float = 0.0):
        problem = FlowProblem(
            mesh,
            params["viscosity"],
            channel_velocity(mesh, inflow),
            "obstacle",
            circular_parts(mesh),
            penalty,
        )
        return navier_stokes(problem, dt, steps, u0=u0, max_cfl=params["max_cfl"], t0=t0)

    state = np.zeros((mesh.num_nodes, 3))
    u0 = None  # the start in P2 values, when the solver made it
    if values.initial is not None:
        state[:, :2] = initial_state(values.initial, state[:, :2], np.zeros(0, dtype=int))
        u0 = state[:, :2]
    elif startup_steps:
        startup = flow(startup_steps)
        state = np.concatenate([startup.velocity[-1], startup.pressure[-1, :, None]], axis=1)
        u0 = startup.velocity_p2[-1]

    def states(history) -> np.ndarray:
        return np.concatenate([history.velocity, history.pressure[..., None]], axis=-1)[1:]

    def solve_from(velocity: np.ndarray, first: int, steps: int) -> np.ndarray:
        return states(flow(steps, velocity[:, :2], start + first * dt))  # vertex values

    solve = lambda steps: states(flow(steps, u0, start))  # noqa: E731
    inputs = np.zeros((mesh.num_nodes, 0))
    check = residual(schema, mesh, inputs, roles, peak / PEAK_PER_MEAN)
    return Setup(inputs, given, state, roles, solve, residual=check, solve_from=solve_from)


def residual(schema: Schema, mesh: Mesh, inputs, roles: dict, mean_speed: float | None = None):
    """states (T, N, 3) -> {"velocity": momentum, "pressure": continuity} Residuals of each
    step (solvers.residuals.flow_residual: the system's velocity and pressure rows) with
    the solver's grad-div penalty for mean_speed (default: from the states' fastest inlet
    value, as in a recorded trajectory, which starts after the ramp); the prescribed
    velocities are the states' own."""
    params = schema.parameters
    inlet = mesh.part_nodes("inlet")
    obstacle_y = mesh.points[mesh.part_nodes("obstacle"), 1]
    size = float(obstacle_y.max() - obstacle_y.min())

    def check(states: np.ndarray) -> dict:
        velocity, pressure = states[..., :2], states[..., 2]
        speed = mean_speed
        if speed is None:
            speed = float(np.linalg.norm(velocity[:, inlet], axis=-1).max()) / PEAK_PER_MEAN
        penalty = grad_div_penalty(params, speed, size)
        walls = channel_velocity(mesh, (0.0, 0.0))  # which parts are held: values unused
        problem = FlowProblem(
            mesh, params["viscosity"], walls, "obstacle", circular_parts(mesh), penalty
        )
        momentum, continuity = flow_residual(problem, velocity, pressure, schema.dt)
        return {"velocity": after_initial(momentum), "pressure": after_initial(continuity)}

    return check


def record_start(params: dict) -> int:
    """Solver steps run before the first saved state: `record_from` seconds (a start from
    rest is run but not learnt from); recipes from before it (resumed datasets) had none."""
    return round(params.get("record_from", 0.0) / params["dt"])


def grad_div_penalty(params: dict, mean_speed: float, diameter: float) -> float:
    """The flow solver's grad-div penalty (m^2/s) from the recipe's dimensionless one, per
    mean speed x obstacle diameter; recipes from before it (resumed datasets) had none."""
    return params.get("grad_div", 0.0) * mean_speed * diameter


def ramped(profile, ramp: float):
    """The inflow profile (x, t) scaled by a smooth step from 0 at t = 0 to 1 at t = ramp."""

    def inflow(points: np.ndarray, t: float) -> np.ndarray:
        s = min(t / ramp, 1.0) if ramp > 0 else 1.0
        return profile(points, t) * (s * s * (3 - 2 * s))

    return inflow


CHANNEL = {
    "length": LENGTH,
    "height": LENGTH,
    "radius": HOLE_RADIUS,
    "center_x": LENGTH,
    "center_y": LENGTH,
    "reynolds": SPEED_RATIO,
    "viscosity": VISCOSITY,
    "h": CELL_SIZE,
    "h_obstacle": CELL_SIZE,
    "ramp": DURATION,
    "record_from": DURATION,
    "max_cfl": COURANT,
    "grad_div": PENALTY,
} | TIME
FAMILIES = [
    Family(
        "cylinder_flow",
        draw_cylinder_flow,
        pose,
        CHANNEL,
        lambda p: (p["length"] * p["height"], 2),
        takes=("dirichlet", "initial"),
        needs=(),
        residual=residual,
    ),
]
