"""A training run's folder: nothing in it is lost. A new run is refused where another run
lives unless it resumes that run or is asked to replace it; a run that fails or is refused
leaves a folder that held files exactly as it was, and an empty or new one as it was if it
wrote no checkpoint; a resumed run appends to the metrics it finds."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

from solvers.errors import InputError

RUN_FILES = ("config.yaml", "metrics.csv", "checkpoints")  # what marks a folder as a run's


class RunFolder:
    """Guards `root` for one training run: checked when made, backed up on entering (a
    context manager around the fit). Only the first process of a multi-process run
    (DDP) guards; the others find the folder it prepared."""

    def __init__(self, root: Path, resume: bool, overwrite: bool) -> None:
        self.root, self.resume, self.overwrite = Path(root), resume, overwrite
        self.active = os.environ.get("LOCAL_RANK", "0") == os.environ.get("NODE_RANK", "0") == "0"
        self.used = self.root.is_dir() and any(self.root.iterdir())
        holds_run = self.used and any((self.root / name).exists() for name in RUN_FILES)
        if self.active and holds_run and not (resume or overwrite):
            raise InputError(
                f"{self.root} holds another training run; expected --resume to continue it, "
                "--overwrite to replace it, or another --trainer.default_root_dir."
            )
        self.existed, self.backup = self.root.exists(), None

    def __enter__(self) -> RunFolder:
        if self.active and self.used:  # kept until the run ends well
            self.backup = Path(tempfile.mkdtemp(prefix=f".{self.root.name}.", dir=self.root.parent))
            shutil.copytree(self.root, self.backup / "run", symlinks=True)
            if self.overwrite and not self.resume:
                shutil.rmtree(self.root)
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        failed = self.active and kind is not None and issubclass(kind, Exception)
        if failed and self.backup is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            (self.backup / "run").rename(self.root)
        elif failed and not (self.root / "checkpoints").exists():  # as it was: none or empty
            shutil.rmtree(self.root, ignore_errors=True)
            if self.existed:
                self.root.mkdir()
        if self.backup is not None:
            shutil.rmtree(self.backup, ignore_errors=True)
        return False


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer deletes a metrics.csv it finds; this one appends to it."""

    def _check_log_dir_exists(self) -> None:
        metrics = Path(self.metrics_file_path)
        if metrics.is_file():  # its columns, so that new rows line up with the old ones
            header = metrics.read_text().splitlines()[:1]
            self.metrics_keys = header[0].split(",") if header and header[0] else []


class AppendingCSVLogger(CSVLogger):
    """CSVLogger whose metrics.csv survives a resumed run: rows are appended."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment
