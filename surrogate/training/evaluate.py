"""Accuracy of a trained surrogate on stored trajectories (the held-out test split)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from surrogate.data.graphs import MeshDataset
from surrogate.training.module import SurrogateModule


@torch.no_grad()
def evaluate(module: SurrogateModule, folder: str | Path, indices: list[int], steps: int):
    """{field: (mean, max)} over the given samples of the relative L2 error after `steps`
    rollout steps (capped at each trajectory's length; steady models predict once)."""
    dataset = MeshDataset(folder, indices, module.hparams.hierarchy, trajectories=True)
    errors: dict[str, list[float]] = {}
    for graph in dataset:
        for name, value in module.rollout_errors(graph, steps).items():
            errors.setdefault(name, []).append(value)
    return {name: (float(np.mean(v)), float(np.max(v))) for name, v in errors.items()}
