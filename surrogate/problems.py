"""What a rollout on a new mesh needs besides the mesh, per problem family: the input
fields, the values of the pinned targets, the initial state, the role of every boundary
part, and the bundled solver run on the same problem (the --reference check).

Values the user does not give default to the middle of the training recipe's ranges.
A stored run (another solver's time series, any family) gives all of these itself:
`from_series`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import solvers
from solvers import Mesh
from solvers.errors import ProblemError
from solvers.navier_stokes import FlowProblem, navier_stokes, parabolic_inflow
from solvers.taylor_hood import circular_parts
from surrogate.data.families import grad_div_penalty, ramped, record_start
from surrogate.data.graphs import ROLE_OF_NAME
from surrogate.data.sample import Sample


@dataclass
class Setup:
    """inputs (N, Ci) and given(steps) -> (N, C), or (steps, N, C) when they change in
    time, the values of pinned targets, stacked in the schema's field order; initial (N, C)
    is None when steady; reference(steps) -> (steps, N, C) solver states."""

    inputs: np.ndarray
    given: Callable[[int], np.ndarray]
    initial: np.ndarray | None
    part_roles: dict[str, str]
    reference: Callable[[int], np.ndarray]


def setup(
    schema: dict,
    mesh: Mesh,
    dirichlet: dict[str, str],
    inputs: dict[str, str],
    traction: dict[str, str] | None = None,
    initial: np.ndarray | float | None = None,
) -> Setup:
    """The Setup of the schema's family on mesh; dirichlet {part: value} names the parts
    held at prescribed values, inputs {name: value} overrides uniform input fields,
    traction {part: "fx,fy"} loads parts (elasticity), initial the starting state."""
    family = schema["family"]
    if family not in FAMILIES:
        raise ProblemError(
            f"rollouts of '{family}' models are not supported yet; supported families: "
            f"{', '.join(FAMILIES)}."
        )
    for part in [*dirichlet, *(traction or {})]:
        if part not in mesh.boundary_parts:
            raise ProblemError(
                f"the mesh has no boundary part '{part}'; its parts are "
                f"{', '.join(mesh.boundary_parts) or 'none'}."
            )
    if not dirichlet and family != "cylinder_flow":
        raise ProblemError(
            f"a {family} model needs the parts held at prescribed values: --dirichlet "
            f"PART=VALUE (the mesh's parts: {', '.join(mesh.boundary_parts)})."
        )
    unknown = set(inputs) - {name for name, _ in schema["inputs"]}
    if unknown:
        raise ProblemError(
            f"--input names {sorted(unknown)}; the model's inputs are "
            f"{[name for name, _ in schema['inputs']]}."
        )
    return FAMILIES[family](schema, mesh, dirichlet, inputs, traction or {}, initial)


def from_series(schema: dict, sample: Sample) -> Setup:
    """The Setup of a run the model never saw, e.g. another solver's time series: its first
    state starts the rollout, its pinned values are prescribed at every step, its inputs
    are read per step, and its states are the reference."""
    times, n = max(len(sample.times), 1), sample.mesh.num_nodes  # steady samples: no times
    if schema["transient"] and times < 2:
        raise ProblemError(f"the series has {times} state(s); a transient model needs two or more.")

    def stacked(specs) -> np.ndarray:
        columns = []
        for name, components, *_ in specs:
            values = sample.fields[name].reshape(times, n, -1)
            if values.shape[-1] != components:
                raise ProblemError(
                    f"field '{name}' has {values.shape[-1]} component(s) in the series but "
                    f"{components} in the model's training data."
                )
            columns.append(values)
        return np.concatenate(columns, axis=-1) if columns else np.zeros((times, n, 0))

    inputs, states = stacked(schema["inputs"]), stacked(schema["targets"])
    roles = dict(sample.meta.get("part_roles", {}))
    if not schema["transient"]:
        return Setup(inputs[0], lambda steps: states[0], None, roles, lambda steps: states[:1])
    following = lambda steps: states[1 : steps + 1]  # noqa: E731
    return Setup(inputs, following, states[0], roles, following)


def _number(value, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ProblemError(f"{what} is {value!r}; expected a number.") from None
    if not np.isfinite(number):
        raise ProblemError(f"{what} is {value!r}; expected a finite number.")
    return number


def _middle(spec) -> float:
    """The middle of a recipe entry: a number, [low, high] or {log_uniform: [low, high]}."""
    if isinstance(spec, dict) and "log_uniform" in spec:
        return float(np.sqrt(np.prod(spec["log_uniform"])))
    if isinstance(spec, dict) and "mean" in spec:
        return float(spec["mean"])
    return float(np.mean(spec))


def _uniform_inputs(mesh, inputs: dict, defaults: dict) -> dict[str, np.ndarray]:
    return {
        name: np.full((mesh.num_nodes, 1), _number(inputs.get(name, default), f"input {name}"))
        for name, default in defaults.items()
    }


def _stack(schema, fields: dict[str, np.ndarray], mesh: Mesh) -> np.ndarray:
    columns = [fields[name].reshape(mesh.num_nodes, -1) for name, _ in schema["inputs"]]
    return np.concatenate(columns, axis=1) if columns else np.zeros((mesh.num_nodes, 0))


def _pinned_scalar(mesh: Mesh, values: dict[str, float]) -> np.ndarray:
    given = np.zeros((mesh.num_nodes, 1))
    for part, value in values.items():
        given[mesh.part_nodes(part), 0] = value
    return given


def _initial_state(initial, given: np.ndarray, pinned_nodes: np.ndarray):
    """The initial state (N, C) from one number or per-node values, with pinned nodes at
    their given values."""
    values = np.asarray(initial, dtype=float)
    values = values.reshape(len(values), -1) if values.ndim else values
    try:
        state = np.broadcast_to(values, given.shape).copy()
    except ValueError:
        state = None
    if state is None or not np.isfinite(state).all():
        raise ProblemError(
            f"the initial state has shape {values.shape} or non-finite values; expected "
            f"one finite number or {given.shape} finite values."
        )
    state[pinned_nodes] = given[pinned_nodes]  # boundary values hold from the start
    return state


def _diffusion(schema, mesh, dirichlet, inputs, traction, initial) -> Setup:
    params = schema["parameters"]
    values = {part: _number(v, f"--dirichlet {part}") for part, v in dirichlet.items()}
    defaults = {"kappa": _middle(params["kappa"]), "source": 0.0}
    fields = _uniform_inputs(mesh, inputs, {n: defaults[n] for n, _ in schema["inputs"]})
    kappa = fields["kappa"][:, 0]
    source = fields["source"][:, 0] if "source" in fields else 0.0
    given = _pinned_scalar(mesh, values)
    roles = {p: "dirichlet" if p in values else "neumann" for p in mesh.boundary_parts}
    if not schema["transient"]:
        solve = lambda steps: solvers.poisson(  # noqa: E731
            mesh, kappa=kappa, source=source, dirichlet=values
        )[None, :, None]
        return Setup(_stack(schema, fields, mesh), lambda steps: given, None, roles, solve)
    pinned = np.unique(np.concatenate([mesh.part_nodes(p) for p in values]))
    # The heat recipe starts near 0.5 (0.5 + 0.25 x a smooth random field).
    state = _initial_state(0.5 if initial is None else initial, given, pinned)

    def solve(steps: int) -> np.ndarray:
        u = solvers.heat(mesh, u0=state[:, 0], kappa=kappa, dirichlet=values,
                         dt=schema["dt"], steps=steps)  # fmt: skip
        return u[1:, :, None]

    return Setup(_stack(schema, fields, mesh), lambda steps: given, state, roles, solve)


def _elasticity(schema, mesh, dirichlet, inputs, traction, initial) -> Setup:
    params = schema["parameters"]
    if not traction:
        raise ProblemError(
            "an elasticity model needs the load: --traction PART=FX,FY "
            f"(the mesh's parts: {', '.join(mesh.boundary_parts)})."
        )
    if "traction" in inputs:
        raise ProblemError("the load is set with --traction PART=FX,FY, not --input traction.")
    loads = {}
    for part, value in traction.items():
        items = str(value).split(",")
        if len(items) != 2:
            raise ProblemError(f"--traction {part}={value}; expected PART=FX,FY.")
        loads[part] = tuple(_number(v, f"--traction {part}") for v in items)
    defaults = {"E": _middle(params["E"]), "nu": _middle(params["nu"])}
    fields = _uniform_inputs(mesh, inputs, defaults)
    load = np.zeros((mesh.num_nodes, 2))
    for part, value in loads.items():
        load[mesh.part_nodes(part)] = value
    fields["traction"] = load
    E, nu = float(fields["E"][0, 0]), float(fields["nu"][0, 0])
    clamped = {part: 0.0 for part in dirichlet}  # displacement held at zero
    given = np.zeros((mesh.num_nodes, 3))  # displacement (2), von_mises (1, never pinned)
    roles = {p: "dirichlet" if p in clamped else "neumann" for p in mesh.boundary_parts}

    def solve(steps: int) -> np.ndarray:
        d = solvers.elasticity(mesh, E=E, nu=nu, plane="stress", dirichlet=clamped,
                               traction=loads)  # fmt: skip
        stress = solvers.von_mises(mesh, d, E, nu, "stress")
        return np.concatenate([d, stress[:, None]], axis=1)[None]

    return Setup(_stack(schema, fields, mesh), lambda steps: given, None, roles, solve)


def _cylinder_flow(schema, mesh, dirichlet, inputs, traction, initial) -> Setup:
    """Channel flow: a parabolic inflow on `inlet` (peak speed from --dirichlet inlet=PEAK,
    default the recipe's mid-range Reynolds number), ramped up from rest over the recipe's
    ramp time; no slip on `walls` and `obstacle`; `outlet` free. The rollout starts where
    the recipe's trajectories do, at its `record_from` time, from the reference solver's
    state there (from rest) or from the given initial velocity."""
    params = schema["parameters"]
    roles = {p: ROLE_OF_NAME.get(p) for p in mesh.boundary_parts}
    missing = {"inlet", "outlet", "walls", "obstacle"} - set(mesh.boundary_parts)
    if missing or None in roles.values():
        raise ProblemError(
            f"a cylinder_flow model needs boundary parts inlet, outlet, walls and obstacle "
            f"(the mesh has {', '.join(mesh.boundary_parts)})."
        )
    inlet = mesh.points[mesh.part_nodes("inlet")]
    low, high = float(inlet[:, 1].min()), float(inlet[:, 1].max())
    if "inlet" in dirichlet:
        peak = _number(dirichlet["inlet"], "--dirichlet inlet")
    else:  # mean speed = Re nu / D with the recipe's mid-range Re and radius; peak = 1.5 mean
        diameter = 2 * _middle(params["radius"])
        peak = 1.5 * _middle(params["reynolds"]) * params["viscosity"] / diameter
    inflow = ramped(parabolic_inflow(peak, low, high), params["ramp"])
    velocity = {"inlet": inflow, "walls": (0.0, 0.0), "obstacle": (0.0, 0.0)}
    nodes = mesh.part_nodes("inlet")
    obstacle_y = mesh.points[mesh.part_nodes("obstacle"), 1]
    penalty = grad_div_penalty(params, peak / 1.5, float(obstacle_y.max() - obstacle_y.min()))

    dt, startup_steps = schema["dt"], record_start(params)
    start = startup_steps * dt

    def given(steps: int) -> np.ndarray:
        values = np.zeros((steps, mesh.num_nodes, 3))  # velocity (2), pressure (never pinned)
        for k in range(steps):
            values[k, nodes, :2] = inflow(mesh.points[nodes], start + dt * (k + 1))
        return values  # walls and obstacle: zero

    def flow(steps: int, u0=None, t0: float = 0.0):
        problem = FlowProblem(mesh, params["viscosity"], velocity, "obstacle",
                              circular_parts(mesh), penalty)  # fmt: skip
        return navier_stokes(problem, dt, steps, u0=u0, max_cfl=params["max_cfl"], t0=t0)

    state = np.zeros((mesh.num_nodes, 3))
    u0 = None  # the start in P2 values, when the solver made it
    if initial is not None:
        state[:, :2] = _initial_state(initial, state[:, :2], np.zeros(0, dtype=int))
        u0 = state[:, :2]
    elif startup_steps:
        startup = flow(startup_steps)
        state = np.concatenate([startup.velocity[-1], startup.pressure[-1, :, None]], axis=1)
        u0 = startup.velocity_p2[-1]

    def solve(steps: int) -> np.ndarray:
        history = flow(steps, u0, start)
        return np.concatenate([history.velocity, history.pressure[..., None]], axis=-1)[1:]

    return Setup(np.zeros((mesh.num_nodes, 0)), given, state, roles, solve)


FAMILIES = {
    "heat_holes": _diffusion,
    "poisson_holes": _diffusion,
    "poisson_box_holes": _diffusion,
    "elasticity_holes": _elasticity,
    "cylinder_flow": _cylinder_flow,
}
