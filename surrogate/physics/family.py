"""What every problem family provides, and the helpers they share.

A family draws solved training samples from a recipe's ranges (generation) and poses a
rollout on a new mesh (`Setup`: the input fields, the values of the pinned targets, the
initial state, the role of every boundary part, and the bundled solver on the same
problem for --reference). Values the user does not give default to the middle of the
recipe's ranges.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from solvers import Mesh, geometry
from solvers.errors import ProblemError
from surrogate.data.sample import Sample
from surrogate.model.schema import Schema
from surrogate.physics.parameters import Rule
from surrogate.values import Number


@dataclass
class Setup:
    """inputs (N, Ci) and given(steps) -> (N, C), or (steps, N, C) when they change in
    time, the values of pinned targets, stacked in the schema's field order; initial (N, C)
    is None when steady; reference(steps) -> (steps, N, C) the solver's states, or a stored
    run's (stored: no solve); residual(states) -> {target: solvers.residuals.Residual} of
    the discrete equations on states (T, N, C) as written (the initial state first when
    transient, its residual zero), for the bundled physics (None: unknown physics);
    solve_from(state, k, steps) -> (steps, N, C) the solver's states after step k's state
    (N, C), for transient bundled physics (a hand-over from the surrogate)."""

    inputs: np.ndarray
    given: Callable[[int], np.ndarray]
    initial: np.ndarray | None
    part_roles: dict[str, str]
    reference: Callable[[int], np.ndarray]
    stored: bool = False
    residual: Callable[[np.ndarray], dict] | None = None
    solve_from: Callable[[np.ndarray, int, int], np.ndarray] | None = None


@dataclass(frozen=True)
class RolloutValues:
    """What a user gives a rollout on a new mesh (strings as typed): dirichlet {part:
    value}, inputs {name: value} for uniform input fields, traction {part: "fx,fy"},
    initial the starting state (a number or per-node values)."""

    dirichlet: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    traction: dict[str, str] = field(default_factory=dict)
    initial: np.ndarray | float | None = None


@dataclass(frozen=True)
class Family:
    """A problem family: `draw(parameters, rng)` a solved Sample from a recipe's parameters
    (a pure function of them and the generator); `pose(schema, mesh, values)` a Setup on
    a new mesh; `takes` the RolloutValues it reads (others given are refused), of which
    `needs` must be given; `parameters` the rules of its recipe's parameters
    (physics.parameters) and `domain(parameters)` its meshes' (area or volume, dimension);
    `residual(schema, mesh, inputs, roles)` the residual of its discrete equations on
    predicted states (Setup.residual), None where it has none yet."""

    name: str
    draw: Callable[[dict, np.random.Generator], Sample]
    pose: Callable[[Schema, Mesh, RolloutValues], Setup]
    parameters: Mapping[str, Rule]
    domain: Callable[[dict], tuple[float, int]] = lambda parameters: (1.0, 2)
    residual: Callable | None = None  # (schema, mesh, inputs, roles) -> Setup.residual
    takes: tuple[str, ...] = ("dirichlet", "inputs", "initial")
    needs: tuple[str, ...] = ("dirichlet",)


FLAGS = {
    "dirichlet": "--dirichlet PART=VALUE",
    "inputs": "--input NAME=VALUE",
    "traction": "--traction PART=FX,FY",
    "initial": "--initial",
}


def draw(spec, rng: np.random.Generator):
    """A value from a recipe entry: a number or string as is; [low, high] uniform (integers
    when both ends are integers, inclusive); {log_uniform: [low, high]} log-uniform."""
    if isinstance(spec, dict) and set(spec) == {"log_uniform"}:
        low, high = spec["log_uniform"]
        return float(np.exp(rng.uniform(np.log(low), np.log(high))))
    if isinstance(spec, list) and len(spec) == 2:
        low, high = spec
        if isinstance(low, int) and isinstance(high, int):
            return int(rng.integers(low, high + 1))
        return float(rng.uniform(low, high))
    return spec


def middle(spec) -> float:
    """The middle of a recipe entry: a number, [low, high] or {log_uniform: [low, high]}."""
    if isinstance(spec, dict) and "log_uniform" in spec:
        return float(np.sqrt(np.prod(spec["log_uniform"])))
    if isinstance(spec, dict) and "mean" in spec:
        return float(spec["mean"])
    return float(np.mean(spec))


def seed_of(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31))


def holes_plate(params: dict, rng: np.random.Generator, drawn: dict) -> Mesh:
    """The unit plate with the recipe's number and sizes of random elliptic holes."""
    drawn["holes"] = count = draw(params["holes"], rng)
    holes = geometry.random_holes(seed_of(rng), count, radius=tuple(params["radius"]))
    drawn["hole_geometry"] = [[h.x, h.y, h.rx, h.ry or h.rx, h.angle] for h in holes]
    return geometry.rectangle_with_holes(holes=holes, h=params["h"])


def after_initial(residual):
    """A Residual of steps 1..T with zeros (residual, error, estimate) for the initial
    state before them: it is given, not predicted."""
    from solvers.residuals import Residual

    def first(values):
        return np.concatenate([np.zeros((1, *values.shape[1:])), values])

    return Residual(*(first(getattr(residual, name)) for name in Residual.__dataclass_fields__))


def number(value, what: str) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ProblemError(f"{what} is {value!r}; expected a number.") from None
    if not np.isfinite(result):
        raise ProblemError(f"{what} is {value!r}; expected a finite number.")
    return result


def uniform_inputs(
    mesh: Mesh, inputs: dict, defaults: dict, rules: Mapping[str, Number]
) -> dict[str, np.ndarray]:
    """(N, 1) fields for each name in defaults: the given value (a number, or per-node
    values) or the default, every value checked against the name's rule."""
    fields = {}
    for name, default in defaults.items():
        value = inputs.get(name, default)
        if isinstance(value, np.ndarray):
            values = value.reshape(mesh.num_nodes, -1)[:, :1]
            for extreme in (values.min(), values.max()):  # NaN fails as well
                rules[name].check(float(extreme), f"--input {name} (per node)")
            fields[name] = values.astype(float)
        else:
            fields[name] = np.full((mesh.num_nodes, 1), rules[name].check(value, f"--input {name}"))
    return fields


def input_fields(schema: Schema, inputs: np.ndarray) -> dict[str, np.ndarray]:
    """{name: (N, c)} the input fields of stacked inputs (N, Ci), or of the first state of
    (S, N, Ci)."""
    inputs = inputs if inputs.ndim == 2 else inputs[0]
    return {name: inputs[:, part] for name, part in schema.slices("input").items()}


def stack_inputs(schema: Schema, fields: dict[str, np.ndarray], mesh: Mesh) -> np.ndarray:
    """(N, Ci) the schema's input fields side by side."""
    columns = [fields[name].reshape(mesh.num_nodes, -1) for name in schema.input_names]
    return np.concatenate(columns, axis=1) if columns else np.zeros((mesh.num_nodes, 0))


def initial_state(initial, given: np.ndarray, pinned_nodes: np.ndarray) -> np.ndarray:
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
