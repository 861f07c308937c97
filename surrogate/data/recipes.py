"""Recipes: YAML files in datasets/NAME/recipe.yaml naming a problem family, whether it is
transient, its parameter ranges and the fields it produces (role, units, description)."""

from __future__ import annotations

from pathlib import Path

import yaml

from solvers.errors import ProblemError
from surrogate.physics import family

RECIPES = Path(__file__).resolve().parents[2] / "datasets"
REQUIRED = ("name", "family", "transient", "parameters", "fields")


def recipe_names() -> list[str]:
    return sorted(p.parent.name for p in RECIPES.glob("*/recipe.yaml"))


def load_recipe(name_or_path: str | Path, overrides: list[str] = ()) -> dict:
    """The recipe of a bundled name or a YAML path, with KEY=VALUE parameter overrides
    (values in YAML syntax, e.g. steps=3 or "radius=[0.05, 0.1]")."""
    path = Path(name_or_path)
    if not path.suffix:
        path = RECIPES / str(name_or_path) / "recipe.yaml"
        if not path.exists():
            raise ProblemError(
                f"recipe '{name_or_path}' is unknown; expected one of "
                f"{', '.join(recipe_names())} or a path to a recipe YAML file."
            )
    try:
        recipe = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        reason = getattr(error, "strerror", None) or str(error).splitlines()[0]
        raise ProblemError(f"{path}: cannot be read as a recipe ({reason}).") from None
    if not isinstance(recipe, dict) or any(key not in recipe for key in REQUIRED):
        raise ProblemError(f"{path}: expected a mapping with keys {', '.join(REQUIRED)}.")
    family(recipe["family"])  # raises naming the known families
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or key not in recipe["parameters"]:
            known = ", ".join(recipe["parameters"])
            raise ProblemError(
                f"override '{item}' names no parameter; expected KEY=VALUE, KEY one of {known}."
            )
        recipe["parameters"][key] = yaml.safe_load(value)
    return recipe
