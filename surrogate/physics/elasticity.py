"""Linear elasticity: plane-stress plates with holes, clamped on the left and pulled by a
random traction on the right (elasticity_holes); targets displacement and von Mises."""

from __future__ import annotations

import numpy as np

import solvers
from solvers import Mesh
from solvers.errors import ProblemError
from solvers.residuals import elasticity_residual
from surrogate.data.sample import Sample
from surrogate.model.schema import Schema
from surrogate.physics.family import (
    Family,
    RolloutValues,
    Setup,
    draw,
    holes_plate,
    input_fields,
    middle,
    number,
    stack_inputs,
    uniform_inputs,
)
from surrogate.physics.parameters import ANGLE, MODULUS, PLATE, VALUE
from surrogate.values import POISSON_RATIO


def draw_elasticity_holes(params: dict, rng: np.random.Generator) -> Sample:
    """Plane-stress plate with holes clamped on the left, a random traction on the right."""
    drawn: dict = {}
    mesh = holes_plate(params, rng, drawn)
    E, nu = draw(params["E"], rng), draw(params["nu"], rng)
    angle, magnitude = draw(params["traction_angle"], rng), draw(params["traction"], rng)
    traction = (magnitude * np.cos(angle), magnitude * np.sin(angle))
    drawn |= {"E": E, "nu": nu, "traction": list(traction)}
    clamped, loads = {"left": 0.0}, {"right": traction}
    displacement, stress = _solve(mesh, E, nu, clamped, loads)
    ones = np.ones((mesh.num_nodes, 1))
    fields = {
        "E": E * ones,
        "nu": nu * ones,
        "traction": _load_field(mesh, loads),
        "displacement": displacement,
        "von_mises": stress[:, None],
    }
    return Sample(mesh, fields, meta={"parameters": drawn, "part_roles": _roles(mesh, clamped)})


def pose(schema: Schema, mesh: Mesh, values: RolloutValues) -> Setup:
    """The parts in values.dirichlet clamped (zero displacement), values.traction loading
    parts, uniform E and nu from values.inputs or the recipe's middle."""
    if "traction" in values.inputs:
        raise ProblemError("the load is set with --traction PART=FX,FY, not --input traction.")
    loads = {}
    for part, value in values.traction.items():
        items = str(value).split(",")
        if len(items) != 2:
            raise ProblemError(f"--traction {part}={value}; expected PART=FX,FY.")
        loads[part] = tuple(number(v, f"--traction {part}") for v in items)
    defaults = {"E": middle(schema.parameters["E"]), "nu": middle(schema.parameters["nu"])}
    fields = uniform_inputs(mesh, values.inputs, defaults, {"E": MODULUS, "nu": POISSON_RATIO})
    fields["traction"] = _load_field(mesh, loads)
    E, nu = fields["E"][:, 0], fields["nu"][:, 0]  # per node: uniform unless given as fields
    clamped = {part: 0.0 for part in values.dirichlet}  # displacement held at zero
    given = np.zeros((mesh.num_nodes, 3))  # displacement (2), von_mises (1, never pinned)

    def solve(steps: int) -> np.ndarray:
        displacement, stress = _solve(mesh, E, nu, clamped, loads)
        return np.concatenate([displacement, stress[:, None]], axis=1)[None]

    inputs, roles = stack_inputs(schema, fields, mesh), _roles(mesh, clamped)
    check = residual(schema, mesh, inputs, roles)
    return Setup(inputs, lambda steps: given, None, roles, solve, residual=check)


def residual(schema: Schema, mesh: Mesh, inputs: np.ndarray, roles: dict):
    """states -> {"displacement": Residual} of plane-stress elasticity with the E, nu and
    traction of inputs (a part whose nodes all carry one nonzero traction is loaded by it),
    the dirichlet parts clamped (von Mises follows the displacement: no residual of its
    own)."""
    fields = input_fields(schema, inputs)
    E, nu, traction = fields["E"][:, 0], fields["nu"][:, 0], fields["traction"]
    clamped = dict.fromkeys([part for part, role in roles.items() if role == "dirichlet"], 0.0)
    loads = {}
    for part in set(mesh.boundary_parts) - set(clamped):
        values = traction[mesh.part_nodes(part)]
        if np.any(values[0] != 0) and np.all(values == values[0]):
            loads[part] = tuple(values[0])
    part = schema.slices()["displacement"]
    return lambda states: {
        "displacement": elasticity_residual(
            mesh, states[..., part], E, nu, None, clamped, loads, "stress"
        )
    }


def _solve(mesh: Mesh, E, nu, clamped: dict, loads: dict):
    """(displacement (N, 2), von Mises stress (N,)) of the plane-stress problem."""
    displacement = solvers.elasticity(
        mesh, E=E, nu=nu, plane="stress", dirichlet=clamped, traction=loads
    )
    return displacement, solvers.von_mises(mesh, displacement, E, nu, "stress")


def _load_field(mesh: Mesh, loads: dict) -> np.ndarray:
    """(N, 2) the traction on the nodes of each loaded part: the model must see the load."""
    load = np.zeros((mesh.num_nodes, 2))
    for part, value in loads.items():
        load[mesh.part_nodes(part)] = value
    return load


def _roles(mesh: Mesh, clamped) -> dict[str, str]:
    return {part: "dirichlet" if part in clamped else "neumann" for part in mesh.boundary_parts}


FAMILIES = [
    Family(
        "elasticity_holes",
        draw_elasticity_holes,
        pose,
        PLATE | {"E": MODULUS, "nu": POISSON_RATIO, "traction": VALUE, "traction_angle": ANGLE},
        takes=("dirichlet", "inputs", "traction"),
        needs=("dirichlet", "traction"),
    ),
]
