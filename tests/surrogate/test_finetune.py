"""Fine-tuning: a new run on new data that starts from a trained checkpoint
(`surrogate train --init_from`), and the checkpoints it refuses."""

from pathlib import Path

import pytest
import torch

from surrogate.data.generate import generate
from surrogate.data.recipes import load_recipe
from tests.surrogate.conftest import TINY, quick_train

HEAT = Path("configs/heat_holes.yaml")
FROZEN = ["--model.lr", "1e-30", "--model.lr_final", "1e-30"]  # too small to move a weight


def checkpoint(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)


@pytest.fixture(scope="module")
def trained(datasets, tmp_path_factory):
    """A heat_holes run of 2 steps, and new heat_holes data (other geometries) beside it."""
    run = tmp_path_factory.mktemp("trained")
    assert quick_train(HEAT, datasets, run) == 0
    new = tmp_path_factory.mktemp("new") / "heat_holes"
    generate(load_recipe("heat_holes", TINY["heat_holes"]), new, 5, seed=7, progress=False)
    return run, new


def test_fine_tuning_starts_from_the_trained_weights_and_statistics(trained, tmp_path):
    run, new = trained
    start = run / "checkpoints" / "last.ckpt"
    assert quick_train(HEAT, new.parent, tmp_path, "--init_from", str(start), *FROZEN) == 0
    before, after = checkpoint(run), checkpoint(tmp_path)
    assert after["global_step"] == 2  # a new run: its own steps, optimiser and schedule
    weights = [
        k
        for k in before["state_dict"]
        if not k.endswith(("count", "total", "total_sq", "accumulations"))
    ]
    assert weights and all(
        torch.equal(before["state_dict"][k], after["state_dict"][k]) for k in weights
    )
    # the normalisers go on accumulating over the new data, from the trained statistics
    count = "surrogate.adapter.input_norm.count"
    assert after["state_dict"][count] > before["state_dict"][count] > 0
    assert after["state_dict"]["surrogate.adapter.input_norm.accumulations"] == 4
    # without --init_from the same run starts from fresh weights
    fresh = tmp_path / "fresh"
    assert quick_train(HEAT, new.parent, fresh, *FROZEN) == 0
    assert not all(
        torch.equal(before["state_dict"][k], checkpoint(fresh)["state_dict"][k]) for k in weights
    )


@pytest.mark.parametrize(
    ("config", "options", "message"),
    [
        (HEAT, ["--model.network.latent", "16"], "model.network is {'name': 'unet', 'latent': 8"),
        (HEAT, ["--data.hierarchy.ratio", "3.0"], "data.hierarchy is"),
        (Path("configs/poisson_holes.yaml"), [], "the dataset's transient is True in it but False"),
    ],
)
def test_a_checkpoint_of_another_model_is_refused_in_one_sentence(
    trained, datasets, capsys, tmp_path, config, options, message
):
    start = trained[0] / "checkpoints" / "last.ckpt"
    assert quick_train(config, datasets, tmp_path, "--init_from", str(start), *options) == 2
    error = capsys.readouterr().err
    assert message in error and "fine-tuning needs the same model" in error
    assert "Traceback" not in error and not (tmp_path / "checkpoints").exists()


def test_init_from_a_file_that_is_no_checkpoint_is_one_sentence(datasets, capsys, tmp_path):
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    assert quick_train(HEAT, datasets, tmp_path / "run", "--init_from", str(junk)) == 2
    error = capsys.readouterr().err
    assert "not a readable surrogate checkpoint" in error and "Traceback" not in error
