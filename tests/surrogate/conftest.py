"""Tiny real datasets of every recipe and a quick way to train on them."""

import logging
import sys
from pathlib import Path

import pytest
import yaml

from surrogate.cli import main
from surrogate.data.generate import generate
from surrogate.data.recipes import load_recipe
from surrogate.model.schema import FieldSpec, Schema
from surrogate.node_types import NODE_TYPES

# Default mesh sizes, few steps and samples: small but real.
TINY = {
    "poisson_holes": [],
    "heat_holes": ["steps=3"],
    "elasticity_holes": [],
    "cylinder_flow": ["steps=3", "record_from=0.02"],
    "poisson_box_holes": [],
}
# Shrinks any config to a few seconds of training.
QUICK = [
    "--trainer.max_steps",
    "2",
    "--trainer.val_check_interval",
    "2",
    "--trainer.enable_progress_bar",
    "false",
    "--trainer.enable_model_summary",
    "false",
    "--model.network.latent",
    "8",
    "--model.rollout_steps",
    "2",
    "--data.split",
    "[0.6, 0.2, 0.2]",
    "--data.validation_samples",
    "1",
]


@pytest.fixture(scope="session")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("datasets")
    for name, overrides in TINY.items():
        generate(load_recipe(name, overrides), root / name, samples=5, progress=False)
    return root


def recipe_of(config: Path) -> str:
    return yaml.safe_load(Path(config).read_text())["data"]["folder"].split("/")[-1]


def quick_train(config, datasets: Path, run: Path, *extra: str) -> int:
    """`surrogate train` of a config on its tiny dataset, shrunk by QUICK; the exit code."""
    return main(
        [
            "train",
            "--config",
            str(config),
            "--data.folder",
            str(datasets / recipe_of(config)),
            "--trainer.default_root_dir",
            str(run),
            *QUICK,
            *extra,
        ]
    )


def schema(transient: bool, inputs, targets) -> Schema:
    """A 2D schema of (name, components) inputs and (name, components, pinned) targets."""
    return Schema(
        "test",
        "test",
        transient,
        2,
        0.1 if transient else None,
        tuple(FieldSpec(name, size, "input") for name, size in inputs),
        tuple(FieldSpec(name, size, "target", pinned) for name, size, pinned in targets),
        NODE_TYPES,
    )


@pytest.fixture(autouse=True)
def lightning_logs_to_this_tests_stderr():
    """Lightning's log handlers keep the stderr of the test that imported Lightning, which
    pytest closes afterwards ("--- Logging error ---" in later tests' stderr): point them
    at the current one."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.stream = sys.stderr  # (setStream would flush the closed one)
