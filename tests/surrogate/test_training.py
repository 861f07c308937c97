"""Training: every config's smoke run, safe checkpoints, reproducibility, the NaN guard,
kill-and-resume and a 2-process DDP run on CPU."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from lightning.pytorch.callbacks import Timer

from solvers.errors import InputError
from surrogate.cli import main
from surrogate.commands.demo import _steps
from surrogate.data.graphs import MeshDataset
from surrogate.metrics import field_errors
from surrogate.model.checkpoint import load_surrogate
from surrogate.model.rollout import trajectory_rollout
from surrogate.training.cli import train
from surrogate.training.data import MeshDataModule
from surrogate.training.module import SurrogateModule, TrainingDiverged
from tests.surrogate.conftest import QUICK, quick_train, recipe_of
from tests.surrogate.test_adapter import HEAT_SCHEMA

CONFIGS = sorted(Path("configs").rglob("*.yaml"))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to("configs")))
def test_every_config_trains_and_its_checkpoint_predicts_the_same(config, datasets, tmp_path):
    assert quick_train(config, datasets, tmp_path) == 0
    assert (tmp_path / "config.yaml").exists() and (tmp_path / "loss.png").exists()
    assert (tmp_path / "metrics.csv").read_text().count("val/rollout_rel_l2") == 1
    raw = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert raw["global_step"] == 2 and raw["hyper_parameters"]["schema"]["recipe"]
    module = load_surrogate(tmp_path / "checkpoints" / "last.ckpt")
    again = load_surrogate(tmp_path / "checkpoints" / "last.ckpt")
    folder = datasets / recipe_of(config)
    graph = MeshDataset(folder, [0], module.hierarchy, trajectories=True)[0]

    def errors(model):
        predicted, truth = trajectory_rollout(model, graph.clone(), 2)
        return field_errors(predicted[-1], truth[-1], model.schema)

    first = errors(module)
    assert first == errors(again)
    assert all(np.isfinite(v) and v > 0 for v in first.values())


def test_pushforward_trains_from_the_cli_on_items_with_history(datasets, monkeypatch, tmp_path):
    histories, setup = [], MeshDataModule.setup
    monkeypatch.setattr(
        MeshDataModule,
        "setup",
        lambda self, stage=None: (histories.append(self.history), setup(self, stage)),
    )
    config = Path("configs/heat_holes.yaml")
    assert quick_train(config, datasets, tmp_path, "--model.pushforward", "2") == 0
    assert histories == [2]  # model.pushforward sets data.history
    raw = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert raw["hyper_parameters"]["pushforward"] == 2


def test_pushforward_longer_than_the_trajectories_is_one_sentence(datasets, capsys, tmp_path):
    config = Path("configs/heat_holes.yaml")  # tiny trajectories of 4 states
    assert quick_train(config, datasets, tmp_path, "--model.pushforward", "3") == 2
    error = capsys.readouterr().err
    assert "model.pushforward 3 needs trajectories of at least 5 states" in error
    assert "Traceback" not in error


def test_training_is_bit_reproducible_on_cpu(datasets, tmp_path):
    config = Path("configs/heat_holes.yaml")
    weights = []
    for run in ("a", "b"):
        assert quick_train(config, datasets, tmp_path / run, "--trainer.max_steps", "3") == 0
        weights.append(
            torch.load(tmp_path / run / "checkpoints" / "last.ckpt", weights_only=True)[
                "state_dict"
            ]
        )
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_nan_loss_stops_training_naming_the_step(datasets, monkeypatch, capsys, tmp_path):
    def poisoned(self, graph):
        return torch.full((graph.num_nodes, self.surrogate.adapter.out_dim), float("nan"))

    monkeypatch.setattr(SurrogateModule, "forward", poisoned)
    assert quick_train(Path("configs/poisson_holes.yaml"), datasets, tmp_path) == 2
    error = capsys.readouterr().err
    assert "the training loss became nan at step 0" in error and "Traceback" not in error
    assert issubclass(TrainingDiverged, RuntimeError)


def test_resume_after_kill_continues_from_the_saved_step(datasets, tmp_path):
    config = Path("configs/poisson_holes.yaml")
    command = [
        sys.executable,
        "-m",
        "surrogate.cli",
        "train",
        "--config",
        str(config),
        "--data.folder",
        str(datasets / "poisson_holes"),
        "--trainer.default_root_dir",
        str(tmp_path),
        *QUICK,
    ]
    command += ["--trainer.max_steps", "100000"]  # keeps going until killed
    last = tmp_path / "checkpoints" / "last.ckpt"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (last.exists() and _step(last) >= 4):
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    saved = _step(last)
    assert saved >= 4 and process.returncode == -signal.SIGKILL
    done = subprocess.run([*command[:-1], str(saved + 2), "--resume"], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    output = done.stdout.decode() + done.stderr.decode()
    assert f"Restored all states from the checkpoint at {last}" in output
    assert _step(last) == saved + 2


def test_last_checkpoint_holds_the_last_step_when_the_metric_stops_improving(datasets, tmp_path):
    """A learning rate too small to change float32 weights: validation at steps 2, 4, 6
    gives the same error, so best.ckpt stays at step 2; last.ckpt must still move on."""
    frozen = ["--model.lr", "1e-30", "--model.lr_final", "1e-30", "--trainer.max_steps", "6"]
    assert quick_train(Path("configs/poisson_holes.yaml"), datasets, tmp_path, *frozen) == 0
    assert _step(tmp_path / "checkpoints" / "best.ckpt") == 2
    assert _step(tmp_path / "checkpoints" / "last.ckpt") == 6


def _step(path: Path) -> int:
    for _ in range(20):  # the checkpoint may be mid-write
        try:
            return torch.load(path, weights_only=True)["global_step"]
        except (RuntimeError, EOFError):
            time.sleep(0.1)
    raise AssertionError(f"{path} never became readable")


def test_train_returns_the_step_reached_and_the_demo_says_when_time_cut_it_short(
    datasets, tmp_path
):
    config = Path("configs/heat_holes.yaml")
    options = [
        "--config",
        str(config),
        "--data.folder",
        str(datasets / recipe_of(config)),
        "--trainer.default_root_dir",
        str(tmp_path),
        *QUICK,
    ]
    assert train(options) == 2
    assert _steps(2, 2) == "2"
    assert _steps(628, 4000) == "628 of 4,000 (stopped by the time limit)"


def test_resume_without_a_checkpoint_is_an_error(datasets, capsys, tmp_path):
    config = Path("configs/poisson_holes.yaml")
    assert quick_train(config, datasets, tmp_path, "--resume") == 2
    error = capsys.readouterr().err
    assert "last.ckpt does not exist; nothing to continue from" in error
    assert not (tmp_path / "checkpoints").exists()


def test_decay_over_time_follows_the_share_of_max_time_spent():
    module = SurrogateModule(
        {"name": "meshgraphnet", "latent": 8, "blocks": 1},
        HEAT_SCHEMA.to_dict(),
        {"num_levels": 1},
        lr=1e-3,
        lr_final=1e-5,
        decay_over_time=True,
    )
    timer, elapsed = Timer(duration={"minutes": 10}), [0.0]
    timer.time_elapsed = lambda stage="train": elapsed[0]
    module.trainer = SimpleNamespace(callbacks=[timer])
    optimizers = module.configure_optimizers()
    optimizer, schedule = optimizers["optimizer"], optimizers["lr_scheduler"]["scheduler"]
    rates = []
    for seconds in (0, 150, 300, 600, 900):  # the step count plays no part
        elapsed[0] = seconds
        optimizer.step()
        schedule.step()
        rates.append(schedule.get_last_lr()[0])
    assert rates == pytest.approx([1e-3, 10**-3.5, 1e-4, 1e-5, 1e-5])


def test_decay_over_time_needs_max_time_and_trains_with_it(datasets, capsys, tmp_path):
    config = Path("configs/poisson_holes.yaml")
    assert quick_train(config, datasets, tmp_path, "--model.decay_over_time", "true") == 2
    assert "trainer.max_time, which is not set" in capsys.readouterr().err
    assert not (tmp_path / "checkpoints").exists()
    assert (
        quick_train(
            config,
            datasets,
            tmp_path,
            "--model.decay_over_time",
            "true",
            "--trainer.max_time",
            "00:00:10:00",
        )
        == 0
    )


def test_ddp_with_two_cpu_processes_on_gloo(datasets, tmp_path):
    command = [
        sys.executable,
        "-m",
        "surrogate.cli",
        "train",
        "--config",
        "configs/poisson_holes.yaml",
        "--data.folder",
        str(datasets / "poisson_holes"),
        "--trainer.default_root_dir",
        str(tmp_path),
        *QUICK,
        "--trainer.accelerator",
        "cpu",
        "--trainer.strategy",
        "ddp",
        "--trainer.devices",
        "2",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Starting with 2 processes" in done.stdout + done.stderr
    raw = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert raw["global_step"] == 2


def test_print_config_shows_the_resolved_config(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(
            ["train", "--config", "configs/heat_holes.yaml", "--model.lr", "3e-4", "--print_config"]
        )
    assert exit_.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["lr"] == 3e-4 and printed["model"]["network"]["name"] == "unet"


def test_missing_dataset_is_one_sentence(capsys, tmp_path):
    code = main(
        [
            "train",
            "--config",
            "configs/poisson_holes.yaml",
            "--data.folder",
            str(tmp_path / "nothing"),
        ]
    )
    error = capsys.readouterr().err
    assert code == 2 and "no dataset here (no manifest.json)" in error
    assert "Traceback" not in error


def test_foreign_checkpoints_are_refused_in_one_sentence(tmp_path):
    plain = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(3)}, plain)
    with pytest.raises(InputError, match="not a surrogate checkpoint"):
        load_surrogate(plain)
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a zip at all")
    with pytest.raises(InputError, match="not a readable surrogate checkpoint"):
        load_surrogate(garbage)
    with pytest.raises(InputError, match="no such checkpoint file"):
        load_surrogate(tmp_path / "missing.ckpt")
