"""Physics: one module per problem family, each defining it once: how a training sample is
drawn and solved, how a rollout is posed on a new mesh (and the solver reference beside
it), and which rollout values it takes. Adding a family is a module here with a FAMILIES
list, plus a recipe in datasets/."""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np

from solvers import Mesh
from solvers.errors import ProblemError
from surrogate.data.sample import Sample
from surrogate.model.schema import Schema
from surrogate.physics.family import FLAGS, Family, RolloutValues, Setup

__all__ = ["FAMILIES", "Family", "RolloutValues", "Setup", "family", "from_series", "pose"]


def _collect() -> dict[str, Family]:
    """The families of every module in this package."""
    found = {}
    for module in pkgutil.iter_modules(__path__):
        for item in getattr(importlib.import_module(f"{__name__}.{module.name}"), "FAMILIES", []):
            found[item.name] = item
    return found


FAMILIES = _collect()
NEEDED = {"dirichlet": "the parts held at prescribed values", "traction": "the load"}


def family(name: str) -> Family:
    if name not in FAMILIES:
        raise ProblemError(f"family '{name}' is unknown; expected one of {', '.join(FAMILIES)}.")
    return FAMILIES[name]


def pose(
    schema: Schema,
    mesh: Mesh,
    dirichlet: dict[str, str],
    inputs: dict[str, str],
    traction: dict[str, str] | None = None,
    initial: np.ndarray | float | None = None,
) -> Setup:
    """The Setup of the schema's family on mesh, after checking the values against what the
    family takes and needs, the mesh's parts and the model's inputs."""
    if schema.family not in FAMILIES:
        raise ProblemError(
            f"rollouts of '{schema.family}' models are not supported yet; supported families: "
            f"{', '.join(FAMILIES)}."
        )
    chosen = FAMILIES[schema.family]
    values = RolloutValues(dict(dirichlet), dict(inputs), dict(traction or {}), initial)
    given = {name for name in FLAGS if not _absent(getattr(values, name))}
    for name in sorted(given - set(chosen.takes)):
        raise ProblemError(f"a {schema.family} model takes no {FLAGS[name]}; drop it.")
    for name in chosen.needs:
        if name not in given:
            raise ProblemError(
                f"a {schema.family} model needs {NEEDED[name]}: {FLAGS[name]} (the mesh's "
                f"parts: {', '.join(mesh.boundary_parts)})."
            )
    for part in [*values.dirichlet, *values.traction]:
        if part not in mesh.boundary_parts:
            raise ProblemError(
                f"the mesh has no boundary part '{part}'; its parts are "
                f"{', '.join(mesh.boundary_parts) or 'none'}."
            )
    unknown = set(values.inputs) - set(schema.input_names)
    if unknown:
        raise ProblemError(
            f"--input names {sorted(unknown)}; the model's inputs are {schema.input_names}."
        )
    return chosen.pose(schema, mesh, values)


def _absent(value) -> bool:
    """A rollout value not given: None or an empty mapping (an array is a value)."""
    return value is None or (isinstance(value, dict) and not value)


def from_series(schema: Schema, sample: Sample) -> Setup:
    """The Setup of a run the model never saw, e.g. another solver's time series, whatever
    its family: its first state starts the rollout, its pinned values are prescribed at
    every step, its inputs are read per step, and its states are the reference."""
    times, n = max(len(sample.times), 1), sample.mesh.num_nodes  # steady samples: no times
    if schema.transient and times < 2:
        raise ProblemError(f"the series has {times} state(s); a transient model needs two or more.")

    def stacked(specs) -> np.ndarray:
        columns = []
        for spec in specs:
            values = sample.fields[spec.name].reshape(times, n, -1)
            if values.shape[-1] != spec.components:
                raise ProblemError(
                    f"field '{spec.name}' has {values.shape[-1]} component(s) in the series "
                    f"but {spec.components} in the model's training data."
                )
            columns.append(values)
        return np.concatenate(columns, axis=-1) if columns else np.zeros((times, n, 0))

    inputs, states = stacked(schema.inputs), stacked(schema.targets)
    roles = dict(sample.meta.get("part_roles", {}))
    if not schema.transient:
        first = lambda steps: states[:1]  # noqa: E731
        return Setup(inputs[0], lambda steps: states[0], None, roles, first, stored=True)
    following = lambda steps: states[1 : steps + 1]  # noqa: E731
    return Setup(inputs, following, states[0], roles, following, stored=True)
