"""What a recipe's parameters may be, declared once per family and checked before any
sample is drawn: each entry is a number, a range [low, high] (low <= high) or
{log_uniform: [low, high]}, and every number in it lies inside the declared range; a
composite entry (a random field's mean, spread and length) is a mapping of such. The
work a recipe asks for is bounded too: its meshes' node count from the cell size, and its
solution's size in memory."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from solvers import geometry
from solvers.errors import ProblemError
from surrogate.values import CELL_SIZE, STEPS, TIME_STEP, Number, check_memory

if TYPE_CHECKING:
    from surrogate.physics.family import Family

Rule = Number | Mapping[str, Number]

HOLES = Number(int, 0, 12, meaning="a number of holes")
HOLE_RADIUS = Number(float, 0, 0.4, low_open=True, meaning="a hole radius")
LENGTH = Number(float, 0, 100, low_open=True, meaning="a length")
VALUE = Number(float, -1e6, 1e6, meaning="a value")
CONDUCTIVITY = Number(float, 0, 1e6, low_open=True, meaning="a conductivity")
LOG_NORMAL = {
    "mean": CONDUCTIVITY,
    "log_std": Number(float, 0, 5, meaning="a log standard deviation"),
    "length": LENGTH,
}
MODULUS = Number(float, 0, 1e6, low_open=True, meaning="Young's modulus")
ANGLE = Number(float, -2 * math.pi, 2 * math.pi, meaning="an angle in radians")
SPEED_RATIO = Number(float, 0, 1e4, low_open=True, meaning="a Reynolds number")
VISCOSITY = Number(float, 0, 1e3, low_open=True, meaning="a viscosity")
DURATION = Number(float, 0, 1e4, meaning="a time in seconds")
COURANT = Number(float, 0, 1e6, low_open=True, meaning="a Courant number")
PENALTY = Number(float, 0, 1e3, meaning="a penalty factor")

PLATE = {"holes": HOLES, "radius": HOLE_RADIUS, "h": CELL_SIZE}
SOURCE = {"source_amplitude": VALUE, "source_length": LENGTH, "boundary_values": VALUE}
TIME = {"dt": TIME_STEP, "steps": STEPS}


def check_parameters(
    family: Family, params: dict, where: str, max_nodes: int = geometry.MAX_NODES
) -> dict:
    """params with every entry checked against the family's rule and converted (whole
    numbers as int); ProblemError naming `where`, the parameter and the expected form
    otherwise. The family's domain (measure, dimension) bounds the meshes' node count from
    the smallest cell size."""
    rules = family.parameters
    missing, unknown = sorted(set(rules) - set(params)), sorted(set(params) - set(rules))
    if missing or unknown:
        problem = (
            f"lack {', '.join(missing)}" if missing else f"include unknown {', '.join(unknown)}"
        )
        raise ProblemError(
            f"{where}: its parameters {problem}; a {family.name} recipe has {', '.join(rules)}."
        )
    checked = {}
    for name in params:  # in the recipe's order, as manifests record it
        rule, what = rules[name], f"{where}: parameter {name}"
        if isinstance(rule, Number):
            checked[name] = _entry(params[name], rule, what)
            continue
        entry = params[name]
        if not isinstance(entry, dict) or set(entry) != set(rule):
            raise ProblemError(f"{what} is {entry!r}; expected a mapping of {', '.join(rule)}.")
        checked[name] = {key: _entry(entry[key], rule[key], f"{what}.{key}") for key in rule}
    sizes = [checked[name] for name in ("h", "h_obstacle") if name in checked]
    if sizes:
        measure, dim = family.domain(checked)
        nodes = geometry.check_nodes(family.name, measure, dim, min(sizes), max_nodes)
        check_memory(nodes * (checked.get("steps", 0) + 1) * 4, f"a {family.name} sample")
    return checked


def _entry(entry, rule: Number, what: str):
    """A number, [low, high] or {log_uniform: [low, high]}, each number inside rule."""
    if isinstance(entry, dict) and set(entry) == {"log_uniform"}:
        low, high = _range(entry["log_uniform"], rule, what)
        if low <= 0:
            raise ProblemError(f"{what} is log-uniform from {low!r}; expected a positive low end.")
        return {"log_uniform": [low, high]}
    if isinstance(entry, list):
        return _range(entry, rule, what)
    return rule.check(entry, what)


def _range(entry, rule: Number, what: str) -> list:
    if not isinstance(entry, list) or len(entry) != 2:
        raise ProblemError(f"{what} is {entry!r}; expected [low, high].")
    low, high = (rule.check(value, what) for value in entry)
    if low > high:
        raise ProblemError(f"{what} is {entry!r}; expected [low, high] with low <= high.")
    return [low, high]
