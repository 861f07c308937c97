"""LightningCLI for `surrogate train`: links the dataset's schema and hierarchy into the
model, picks precision and determinism for the hardware, and lays out the run folder."""

from __future__ import annotations

import argparse
import itertools
import logging
import re
import warnings
from pathlib import Path

import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import TensorBoardLogger

from solvers.errors import InputError
from surrogate.model.checkpoint import read_checkpoint
from surrogate.plain_yaml import read_yaml
from surrogate.training.callbacks import LastCheckpoint, LossCurve
from surrogate.training.data import MeshDataModule
from surrogate.training.finetune import initialise_from
from surrogate.training.module import SurrogateModule
from surrogate.training.run_folder import AppendingCSVLogger, RunFolder
from surrogate.values import SEED, STEPS

MONITOR = "val/rollout_rel_l2"
CONFIGS = Path(__file__).resolve().parents[2] / "configs"  # one per recipe, and baselines


class TrainCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument(
            "--resume",
            action="store_true",
            help="continue from the run folder's checkpoints/last.ckpt (an error if absent)",
        )
        parser.add_argument(
            "--overwrite",
            action="store_true",
            help="replace the run in the run folder (refused otherwise, unless --resume)",
        )
        parser.add_argument(
            "--init_from",
            default=None,
            help="start from the weights and normalisers of this trained checkpoint "
            "(fine-tuning on new data: same network and fields, new optimiser and schedule)",
        )
        parser.link_arguments("data.schema", "model.schema", apply_on="instantiate")
        parser.link_arguments("data.hierarchy", "model.hierarchy", apply_on="instantiate")
        parser.link_arguments("model.pushforward", "data.history")  # the states it unrolls

    def before_instantiate_classes(self) -> None:
        trainer = self.config["trainer"]
        for key in ("max_steps", "max_epochs"):  # -1 (or None for epochs): no limit
            if trainer.get(key) not in (None, -1):
                STEPS.check(trainer[key], f"trainer.{key}")
        gpu = torch.cuda.is_available() and trainer["accelerator"] in ("auto", "gpu", "cuda")
        if trainer["precision"] is None:
            trainer["precision"] = "bf16-mixed" if gpu else "32-true"
        if trainer["deterministic"] is None and not gpu:
            trainer["deterministic"] = True  # bit-reproducible on CPU

    def _set_seed(self) -> None:
        seed = self.config.get("seed_everything")
        if not isinstance(seed, bool) and seed is not None:  # numpy's range, before seeding
            SEED.check(seed, "seed_everything")
        super()._set_seed()

    def instantiate_trainer(self, **kwargs):
        root = run_folder(self.config)
        # checked and backed up before the trainer can write there
        self.run_folder = RunFolder(root, self.config["resume"], self.config["overwrite"])
        if self.config["trainer"]["logger"] in (None, True):
            kwargs["logger"] = [
                TensorBoardLogger(root, name="", version=""),
                AppendingCSVLogger(root, name="", version=""),
            ]
        self.trainer_defaults["callbacks"] = [
            # A resumed run replaces best/last.ckpt (no best-v1.ckpt beside a stale one).
            ModelCheckpoint(
                root / "checkpoints", "best", monitor=MONITOR, enable_version_counter=False
            ),
            LastCheckpoint(root / "checkpoints" / "last.ckpt"),
            LossCurve(root / "loss.png", MONITOR),
        ]
        return super().instantiate_trainer(**kwargs)


class _NoAdvertising(logging.Filter):
    """Drops Lightning's "Tip: try litlogger" line, printed on every run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in record.getMessage()


_NO_ADVERTISING = _NoAdvertising()


def run_folder(config) -> Path:
    return Path(config["trainer"]["default_root_dir"] or "runs/train")


def _one_line(error: Exception) -> str:
    """jsonargparse's message about one option, as one sentence."""
    text = " ".join(str(error).split())
    key = re.search(r'Parser key "([^"]+)"', text)
    given = re.search(r"(?:Got|Given) value: (.*?)\.?$", text)
    if key and given:
        kinds = re.findall(r"<class '(\w+)'>", text)
        names = {"int": "a whole number", "float": "a number", "bool": "true or false"}
        expected = " or ".join(dict.fromkeys(names[kind] for kind in kinds if kind in names))
        return f"{key.group(1)} is {given.group(1)!r}; expected {expected or 'another value'}."
    return text if text.endswith(".") else f"{text}."


def train(options: list[str]) -> int:
    """Parse LightningCLI options and fit; --init_from starts from a trained checkpoint,
    --resume continues from last.ckpt (which wins over --init_from). Returns the number of
    optimiser steps reached."""
    warnings.filterwarnings("ignore", ".*exists and is not empty.*")
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*not recommended to provide both args.*")
    warnings.filterwarnings("ignore", ".*treespec, LeafSpec.*")  # Lightning's own deprecation
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).addFilter(_NO_ADVERTISING)
    for flag, value in itertools.pairwise(options):
        if flag == "--config":  # jsonargparse would expand aliases: read it our way first
            read_yaml(value, "a training config")
    try:
        cli = TrainCLI(
            SurrogateModule,
            MeshDataModule,
            args=options,
            run=False,
            seed_everything_default=0,
            save_config_kwargs={"overwrite": True},
            auto_configure_optimizers=False,
            parser_kwargs={"exit_on_error": False},
        )
    except argparse.ArgumentError as error:  # jsonargparse's usage and lines: one sentence
        raise InputError(f"the training options are invalid: {_one_line(error)}") from None
    last = run_folder(cli.config) / "checkpoints" / "last.ckpt"
    with cli.run_folder:
        if cli.config["resume"] and not last.exists():
            raise InputError(f"--resume: {last} does not exist; nothing to continue from.")
        if cli.config["resume"]:
            read_checkpoint(last)  # one of ours, readable: else one sentence, not Lightning's
        if cli.config["init_from"]:
            initialise_from(cli.model, cli.config["init_from"])
        resume_from = last if cli.config["resume"] else None
        cli.trainer.fit(cli.model, cli.datamodule, ckpt_path=resume_from, weights_only=True)
    return cli.trainer.global_step
