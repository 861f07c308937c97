"""Recipes: YAML files in datasets/NAME/recipe.yaml naming a problem family, whether it is
transient, its parameter ranges and the fields it produces (role, units, description)."""

from __future__ import annotations

import math
from pathlib import Path

from solvers import geometry
from solvers.errors import ProblemError
from surrogate.physics import family
from surrogate.physics.parameters import check_parameters
from surrogate.plain_yaml import parse_yaml, read_yaml

RECIPES = Path(__file__).resolve().parents[2] / "datasets"
REQUIRED = ("name", "family", "transient", "parameters", "fields")


def recipe_names() -> list[str]:
    return sorted(p.parent.name for p in RECIPES.glob("*/recipe.yaml"))


def load_recipe(
    name_or_path: str | Path, overrides: list[str] = (), max_nodes: int = geometry.MAX_NODES
) -> dict:
    """The recipe of a bundled name or a YAML path, with KEY=VALUE parameter overrides
    (values in YAML syntax, e.g. steps=3 or "radius=[0.05, 0.1]"), its parameters checked
    against its family's rules (meshes of at most max_nodes nodes)."""
    path = Path(name_or_path)
    if not path.suffix:
        path = RECIPES / str(name_or_path) / "recipe.yaml"
        if not path.exists():
            raise ProblemError(
                f"recipe '{name_or_path}' is unknown; expected one of "
                f"{', '.join(recipe_names())} or a path to a recipe YAML file."
            )
    recipe = read_yaml(path, "a recipe")
    if not isinstance(recipe, dict) or any(key not in recipe for key in REQUIRED):
        raise ProblemError(f"{path}: expected a mapping with keys {', '.join(REQUIRED)}.")
    chosen = family(recipe["family"])  # raises naming the known families
    if not isinstance(recipe["parameters"], dict):
        raise ProblemError(f"{path}: parameters is not a mapping; expected name: value pairs.")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or key not in recipe["parameters"]:
            known = ", ".join(recipe["parameters"])
            raise ProblemError(
                f"override '{item}' names no parameter; expected KEY=VALUE, KEY one of {known}."
            )
        recipe["parameters"][key] = _like(recipe["parameters"][key], parse_yaml(value, item), item)
    recipe["parameters"] = check_parameters(chosen, recipe["parameters"], str(path), max_nodes)
    return recipe


def _like(old, new, item: str):
    """An override's value, refused unless it has the form of the value it replaces: a
    finite number for a number, [low, high] for a range, the same keys for a mapping."""

    def form(value):
        if isinstance(value, bool) or value is None:
            return type(value).__name__
        if isinstance(value, int | float):
            return "number" if math.isfinite(value) else "non-finite"
        if isinstance(value, list):
            return ["list", *map(form, value)] if len(value) <= 2 else "list"
        if isinstance(value, dict):
            return {key: form(v) for key, v in value.items()}
        return type(value).__name__

    if form(new) != form(old):
        raise ProblemError(
            f"override '{item}' gives {new!r}; expected a value of the form {old!r}."
        )
    return new
