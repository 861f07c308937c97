"""Training callbacks of our own: the latest checkpoint and the loss-curve picture."""

from __future__ import annotations

import csv
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities import rank_zero_only


class LastCheckpoint(Checkpoint):
    """Writes the latest state to one file after every validation and at the end of
    training (a time limit included), so that --resume continues from there.

    ModelCheckpoint(save_last=True) writes last.ckpt only when its monitored metric
    improves (Lightning 2.6), which sent a resumed run back to its last best step. As a
    Checkpoint it runs after ModelCheckpoint, so the saved state holds the newest best score.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def on_validation_end(self, trainer, module) -> None:
        if not trainer.sanity_checking:
            self._save(trainer)

    def on_train_end(self, trainer, module) -> None:
        self._save(trainer)

    def _save(self, trainer) -> None:
        # The full state (optimizer, schedule, loops) for --resume. Saying so explicitly
        # also keeps Lightning from logging "`weights_only` was not set, defaulting to
        # False", which reads like an unsafe load; loading is always weights_only=True.
        trainer.save_checkpoint(self.path, weights_only=False)


class LossCurve(L.Callback):
    """Draws the training loss and the validation metric against the step into a PNG
    (from the CSV log) after every validation and at the end of training."""

    def __init__(self, path: str | Path, monitor: str) -> None:
        self.path, self.monitor = Path(path), monitor

    def on_validation_end(self, trainer, module) -> None:
        if not trainer.sanity_checking:
            self.draw(trainer)

    def on_train_end(self, trainer, module) -> None:
        self.draw(trainer)

    @rank_zero_only
    def draw(self, trainer) -> None:
        logger = next((lg for lg in trainer.loggers if isinstance(lg, CSVLogger)), None)
        if logger is None:
            return
        logger.save()
        metrics = Path(logger.log_dir) / "metrics.csv"
        if not metrics.exists():
            return
        series: dict[str, tuple[list, list]] = {"train/loss": ([], []), self.monitor: ([], [])}
        with metrics.open(newline="") as file:
            for row in csv.DictReader(file):
                for key, (steps, values) in series.items():
                    if row.get(key):
                        steps.append(int(row["step"]))
                        values.append(float(row[key]))
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axes = plt.subplots(1, 2, figsize=(10, 4))
        for axis, (key, (steps, values)) in zip(axes, series.items(), strict=True):
            axis.semilogy(steps, values, marker="." if len(steps) < 50 else None)
            axis.set(xlabel="step", ylabel=key, title=key)
            axis.grid(True, which="both", alpha=0.3)
        figure.tight_layout()
        figure.savefig(self.path, dpi=100)
        plt.close(figure)
