"""Checkpoints of earlier formats load through their migration and predict exactly as the
code that wrote them did (tests/fixtures/checkpoints, written before the model layer)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from solvers import Mesh
from surrogate.model.checkpoint import FORMAT, load_surrogate, read_checkpoint
from surrogate.model.rollout import predict_on_mesh
from surrogate.physics import Setup, pose

FIXTURES = Path(__file__).parents[1] / "fixtures" / "checkpoints"
FAMILIES = ("heat_holes", "elasticity_holes", "cylinder_flow")


def stored(name: str):
    """The fixture's mesh, its rollout values and the arrays written with it."""
    with np.load(FIXTURES / f"{name}.npz", allow_pickle=False) as archive:
        arrays = dict(archive)
    parts = {k[5:]: v for k, v in arrays.items() if k.startswith("part.")}
    values = json.loads((FIXTURES / f"{name}.json").read_text())
    return Mesh(arrays["points"], arrays["cells"], parts), values, arrays


def stored_setup(values: dict, arrays: dict) -> Setup:
    """The set-up the fixture's code posed, from its stored arrays."""
    given = arrays["given"]
    return Setup(
        arrays["inputs"], lambda steps: given, arrays.get("initial"), values["part_roles"], None
    )


@pytest.mark.parametrize("name", FAMILIES)
def test_a_format_1_checkpoint_predicts_bit_for_bit_as_before(name):
    mesh, values, arrays = stored(name)
    assert torch.load(FIXTURES / f"{name}.ckpt", weights_only=True)["surrogate_format"] == (
        "surrogate-checkpoint/1"
    )
    model = load_surrogate(FIXTURES / f"{name}.ckpt")
    setup = stored_setup(values, arrays)
    predicted = predict_on_mesh(model, mesh, setup, values["steps"])
    assert np.array_equal(predicted, arrays["predicted"])


@pytest.mark.parametrize("name", FAMILIES)
def test_the_physics_poses_the_same_set_up_as_before(name):
    mesh, values, arrays = stored(name)
    model = load_surrogate(FIXTURES / f"{name}.ckpt")
    setup = pose(
        model.schema,
        mesh,
        values["dirichlet"],
        values["inputs"],
        values["traction"],
        values["initial"],
    )
    assert setup.part_roles == values["part_roles"]
    assert np.array_equal(setup.inputs, arrays["inputs"])
    assert np.array_equal(setup.given(values["steps"]), arrays["given"])
    if "initial" in arrays:  # cylinder_flow's comes from the solver's start-up steps
        np.testing.assert_allclose(setup.initial, arrays["initial"], rtol=1e-10, atol=1e-12)


def test_migration_names_the_schema_fields_and_moves_the_weights():
    checkpoint = read_checkpoint(FIXTURES / "elasticity_holes.ckpt")
    assert checkpoint["surrogate_format"] == FORMAT
    targets = checkpoint["hyper_parameters"]["schema"]["targets"]
    assert targets[0] == {"name": "displacement", "components": 2, "role": "target", "pinned": True}
    state = checkpoint["state_dict"]
    assert all(key.startswith("surrogate.") for key in state)
    assert state["surrogate.adapter.magnitude_norm.total"].shape == (0,)  # none was stored
