"""surrogate evaluate: the accuracy table of a trained model on a dataset's held-out
geometries."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from surrogate.cli import main
from surrogate.data.graphs import MeshDataset, split_by_geometry
from surrogate.evaluate import evaluate, evaluate_checkpoint
from surrogate.metrics import relative_l2, rmse
from surrogate.model.checkpoint import load_surrogate
from surrogate.model.rollout import trajectory_rollout
from tests.surrogate.conftest import quick_train

HEAT = Path("configs/heat_holes.yaml")


@pytest.fixture(scope="module")
def heat_run(datasets, tmp_path_factory):
    run = tmp_path_factory.mktemp("heat_run")
    assert quick_train(HEAT, datasets, run) == 0
    return run / "checkpoints" / "last.ckpt", datasets / "heat_holes"


def test_evaluate_summarises_the_rollout_errors_over_samples(heat_run):
    checkpoint, folder = heat_run
    model = load_surrogate(checkpoint)
    measured = evaluate(model, folder, [0, 3], steps=(1, 2, 3))
    items = [MeshDataset(folder, [i], model.hierarchy, trajectories=True)[0] for i in (0, 3)]
    states = [trajectory_rollout(model, item.clone(), 3) for item in items]
    for h in (1, 2, 3):
        each = [relative_l2(predicted[h - 1], truth[h - 1]) for predicted, truth in states]
        summary = measured.relative_l2["u"][h]
        assert summary["mean"] == pytest.approx(np.mean(each))
        assert summary["median"] == pytest.approx(np.median(each))
        assert summary["worst"] == pytest.approx(max(each))
        # MeshGraphNets: the mean over samples of the MSE over steps 1..h
        mse = [rmse(predicted[:h], truth[:h]) ** 2 for predicted, truth in states]
        assert measured.rmse["u"][h] == pytest.approx(np.sqrt(np.mean(mse)))
    assert measured.rmse["u"][1] != measured.rmse["u"][3]


def test_evaluate_checkpoint_uses_the_runs_own_split_and_records_the_compute(heat_run):
    checkpoint, folder = heat_run
    stored = torch.load(checkpoint, weights_only=True)["datamodule_hyper_parameters"]
    assert list(stored["split"]) == [0.6, 0.2, 0.2]  # the QUICK runs' split
    measured = evaluate_checkpoint(checkpoint, folder, "validation", steps=(2,))
    assert measured.samples == split_by_geometry(folder, (0.6, 0.2, 0.2))["validation"]
    assert measured.compute["training_steps"] == 2 and measured.compute["evaluation_s"] > 0
    assert measured.compute["split_fractions"] == [0.6, 0.2, 0.2]
    everything = evaluate_checkpoint(checkpoint, folder, "all", steps=(2,))
    assert everything.samples == [0, 1, 2, 3, 4]


def test_the_command_prints_the_table_and_writes_json(heat_run, capsys, tmp_path):
    checkpoint, folder = heat_run
    out = tmp_path / "accuracy.json"
    code = main(
        [
            "evaluate",
            "--checkpoint",
            str(checkpoint),
            "--data",
            str(folder),
            "--split",
            "all",
            "--steps",
            "1",
            "3",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "| u | 3 |" in printed and "training steps: 2" in printed
    written = json.loads(out.read_text())
    assert written["steps"] == [1, 3] and set(written["relative_l2"]["u"]) == {"1", "3"}


def test_bad_steps_are_one_sentence(heat_run, capsys):
    checkpoint, folder = heat_run
    code = main(
        ["evaluate", "--checkpoint", str(checkpoint), "--data", str(folder), "--steps", "0"]
    )
    error = capsys.readouterr().err
    assert code == 2 and "expected a number of steps" in error
    assert "Traceback" not in error


def test_rmse_averages_over_steps_nodes_and_components():
    truth = np.zeros((2, 3, 2))
    predicted = truth.copy()
    predicted[0, 0] = (3.0, 4.0)  # 25 over the 12 entries
    assert rmse(predicted, truth) == pytest.approx(np.sqrt(25 / 12))
    assert rmse(predicted[:1], truth[:1]) == pytest.approx(np.sqrt(25 / 6))
    assert rmse(predicted[1:], truth[1:]) == 0.0


def test_an_ensemble_evaluation_sets_its_indicators_against_the_true_error(
    heat_run, datasets, tmp_path, capsys
):
    checkpoint, folder = heat_run
    second = tmp_path / "second"
    assert quick_train(HEAT, datasets, second, "--seed_everything", "1") == 0
    members = [checkpoint, second / "checkpoints" / "last.ckpt"]
    measured = evaluate_checkpoint(members, folder, "all", steps=(1, 3))
    assert measured.compute["members"] == 2
    pairs = measured.pairs["u"]
    assert set(pairs) == {"spread", "residual", "estimate"} and len(pairs["spread"]) == 5 * 3
    assert all(-1 <= rho <= 1 for rho in measured.calibration["u"].values())  # computed
    out = tmp_path / "figures.json"
    args = ["evaluate", "--data", str(folder), "--split", "all", "--steps", "3"]
    args += [f"--checkpoint={path}" for path in members]
    assert main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "u residual: Spearman rank correlation with the true error" in printed
    assert "u spread: Spearman" in printed and (tmp_path / "figures_calibration.png").exists()
    assert "u estimate: Spearman" in printed
    calibration = json.loads(out.read_text())["calibration"]["u"]
    assert set(calibration) == {"spread", "residual", "estimate"}
