"""Diffusion: steady -div(kappa grad u) = f (poisson_holes, poisson_box_holes) and the heat
equation du/dt = div(kappa grad u) (heat_holes), with log-normal conductivities."""

from __future__ import annotations

import numpy as np

import solvers
from solvers import Mesh, geometry
from solvers.residuals import heat_residual, poisson_residual
from surrogate.data.random_fields import gaussian_field, log_normal_field
from surrogate.data.sample import Sample
from surrogate.model.schema import Schema
from surrogate.physics.family import (
    Family,
    RolloutValues,
    Setup,
    after_initial,
    draw,
    holes_plate,
    initial_state,
    input_fields,
    middle,
    number,
    seed_of,
    stack_inputs,
    uniform_inputs,
)
from surrogate.physics.parameters import (
    CONDUCTIVITY,
    HOLES,
    LENGTH,
    LOG_NORMAL,
    PLATE,
    SOURCE,
    TIME,
    VALUE,
)
from surrogate.values import CELL_SIZE

BOX_SIDES = ("left", "right", "bottom", "top")
INITIAL_MEAN = 0.5  # heat_holes starts at 0.5 + 0.25 x a smooth random field


def draw_poisson_holes(params: dict, rng: np.random.Generator) -> Sample:
    """-div(kappa grad u) = f on a plate with holes; outer sides at random values, holes
    insulated; kappa log-normal, f a smooth random field."""
    drawn: dict = {}
    mesh = holes_plate(params, rng, drawn)
    return _steady(mesh, params, rng, drawn, BOX_SIDES)


def draw_poisson_box_holes(params: dict, rng: np.random.Generator) -> Sample:
    """3D: -div(kappa grad u) = f in a box with spherical holes; xmin/xmax at random
    values, other faces and holes insulated."""
    drawn = {"holes": draw(params["holes"], rng)}
    mesh = geometry.box_with_holes(n_holes=drawn["holes"], seed=seed_of(rng), h=params["h"])
    return _steady(mesh, params, rng, drawn, ("xmin", "xmax"))


def draw_heat_holes(params: dict, rng: np.random.Generator) -> Sample:
    """du/dt = div(kappa grad u) on a plate with holes held at random temperatures, outer
    sides insulated, from a smooth random initial temperature."""
    drawn: dict = {}
    mesh = holes_plate(params, rng, drawn)
    kappa = _log_normal(params["kappa"], rng, mesh, drawn)
    field = gaussian_field(rng, 2, params["initial_length"])(mesh.points)
    u0 = INITIAL_MEAN + 0.25 * field
    holes = [part for part in mesh.boundary_parts if part.startswith("hole")]
    temperatures = {part: draw(params["hole_temperature"], rng) for part in holes}
    drawn["hole_temperatures"] = temperatures
    dt, steps = params["dt"], params["steps"]
    u = solvers.heat(mesh, u0=u0, kappa=kappa, dirichlet=temperatures, dt=dt, steps=steps)
    kappa_t = np.broadcast_to(kappa[None, :, None], (steps + 1, mesh.num_nodes, 1))
    meta = {"parameters": drawn, "part_roles": _roles(mesh, temperatures)}
    return Sample(
        mesh, {"kappa": kappa_t.copy(), "u": u[..., None]}, dt * np.arange(steps + 1), meta
    )


def pose(schema: Schema, mesh: Mesh, values: RolloutValues) -> Setup:
    """The parts in values.dirichlet held at those values, the rest insulated; uniform
    kappa (and source) from values.inputs or the recipe's middle; heat starts from
    values.initial or the recipe's mean temperature."""
    fixed = {part: number(v, f"--dirichlet {part}") for part, v in values.dirichlet.items()}
    defaults = {"kappa": middle(schema.parameters["kappa"]), "source": 0.0}
    defaults = {name: defaults[name] for name in schema.input_names}
    fields = uniform_inputs(mesh, values.inputs, defaults, {"kappa": CONDUCTIVITY, "source": VALUE})
    kappa = fields["kappa"][:, 0]
    source = fields["source"][:, 0] if "source" in fields else 0.0
    given = np.zeros((mesh.num_nodes, 1))
    for part, value in fixed.items():
        given[mesh.part_nodes(part), 0] = value
    inputs, roles = stack_inputs(schema, fields, mesh), _roles(mesh, fixed)
    if not schema.transient:
        solve = lambda steps: solvers.poisson(  # noqa: E731
            mesh, kappa=kappa, source=source, dirichlet=fixed
        )[None, :, None]
        check = residual(schema, mesh, inputs, roles)
        return Setup(inputs, lambda steps: given, None, roles, solve, residual=check)
    pinned = np.unique(np.concatenate([mesh.part_nodes(p) for p in fixed]))
    start = INITIAL_MEAN if values.initial is None else values.initial
    state = initial_state(start, given, pinned)

    def solve_from(start: np.ndarray, first: int, steps: int) -> np.ndarray:
        u = solvers.heat(
            mesh, u0=start[:, 0], kappa=kappa, dirichlet=fixed, dt=schema.dt, steps=steps
        )
        return u[1:, :, None]  # the data do not change in time: any step starts alike

    check = residual(schema, mesh, inputs, roles)
    solve = lambda steps: solve_from(state, 0, steps)  # noqa: E731
    return Setup(inputs, lambda steps: given, state, roles, solve, False, check, solve_from)


def residual(schema: Schema, mesh: Mesh, inputs: np.ndarray, roles: dict):
    """states -> {"u": Residual} of the discrete equations with the conductivity and
    source of inputs ((N, Ci), or per state: the first), the dirichlet parts of roles
    held (their values come with the states)."""
    fields = input_fields(schema, inputs)
    kappa, source = fields["kappa"][:, 0], fields["source"][:, 0] if "source" in fields else 0.0
    fixed = dict.fromkeys([part for part, role in roles.items() if role == "dirichlet"], 0.0)
    if not schema.transient:
        return lambda states: {"u": poisson_residual(mesh, states[..., 0], kappa, source, fixed)}
    return lambda states: {
        "u": after_initial(heat_residual(mesh, states[..., 0], kappa, source, fixed, dt=schema.dt))
    }


def _steady(mesh, params: dict, rng: np.random.Generator, drawn: dict, fixed) -> Sample:
    """Log-normal kappa, smooth random source, the parts in fixed at random values and
    the rest of the boundary insulated: the sample of both Poisson families."""
    kappa = _log_normal(params["kappa"], rng, mesh, drawn)
    drawn["source_amplitude"] = amplitude = draw(params["source_amplitude"], rng)
    source = amplitude * gaussian_field(rng, mesh.dim, params["source_length"])(mesh.points)
    values = {part: draw(params["boundary_values"], rng) for part in fixed}
    drawn["boundary_values"] = values
    u = solvers.poisson(mesh, kappa=kappa, source=source, dirichlet=values)
    fields = {"kappa": kappa[:, None], "source": source[:, None], "u": u[:, None]}
    return Sample(mesh, fields, meta={"parameters": drawn, "part_roles": _roles(mesh, values)})


def _log_normal(spec: dict, rng: np.random.Generator, mesh, drawn: dict) -> np.ndarray:
    log_std, length = draw(spec["log_std"], rng), draw(spec["length"], rng)
    drawn["kappa"] = {"mean": spec["mean"], "log_std": log_std, "length": length}
    return log_normal_field(rng, mesh.dim, spec["mean"], log_std, length)(mesh.points)


def _roles(mesh: Mesh, fixed) -> dict[str, str]:
    """The parts held at values are dirichlet, the others insulated (neumann)."""
    return {part: "dirichlet" if part in fixed else "neumann" for part in mesh.boundary_parts}


HEAT = {"kappa": LOG_NORMAL, "initial_length": LENGTH, "hole_temperature": VALUE}
BOX = {"holes": HOLES, "h": CELL_SIZE, "kappa": LOG_NORMAL}
FAMILIES = [
    Family(
        "poisson_holes",
        draw_poisson_holes,
        pose,
        PLATE | {"kappa": LOG_NORMAL} | SOURCE,
        residual=residual,
    ),
    Family(
        "poisson_box_holes",
        draw_poisson_box_holes,
        pose,
        BOX | SOURCE,
        lambda p: (1.0, 3),
        residual=residual,
    ),
    Family("heat_holes", draw_heat_holes, pose, PLATE | HEAT | TIME, residual=residual),
]
