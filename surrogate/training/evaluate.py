"""Accuracy of a trained surrogate on stored trajectories (the held-out test split)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from surrogate.data.graphs import MeshDataset
from surrogate.metrics import field_errors, field_slices, rmse
from surrogate.training.module import SurrogateModule


@dataclass
class Evaluation:
    """relative_l2: {field: (mean, max)} over the samples of the relative L2 error after the
    requested steps; rmse: {field: {h: value}}, MeshGraphNets' rollout RMSE after h steps
    (the root of the squared error averaged over steps 1..h, nodes, components and
    samples), for each requested horizon h."""

    relative_l2: dict[str, tuple[float, float]]
    rmse: dict[str, dict[int, float]] = field(default_factory=dict)


@torch.no_grad()
def evaluate(
    module: SurrogateModule,
    folder: str | Path,
    indices: list[int],
    steps: int,
    rmse_horizons: tuple[int, ...] = (),
) -> Evaluation:
    """Rolls each sample out for max(steps, *rmse_horizons) steps, capped at its length
    (steady models predict once, so their horizons are all 1), and measures it."""
    dataset = MeshDataset(folder, indices, module.hparams.hierarchy, trajectories=True)
    parts = field_slices(module.adapter.schema)
    errors: dict[str, list[float]] = {name: [] for name in parts}
    squared = {name: {h: [] for h in rmse_horizons} for name in parts}
    for graph in dataset:
        predicted, truth = module.rollout_states(graph, max((steps, *rmse_horizons)))
        at = min(steps, len(predicted)) - 1
        for name, value in field_errors(predicted[at], truth[at], module.adapter.schema).items():
            errors[name].append(value)
        for name, part in parts.items():
            for h in rmse_horizons:  # mean squared error per sample, averaged below
                squared[name][h].append(rmse(predicted[:h, :, part], truth[:h, :, part]) ** 2)
    return Evaluation(
        {name: (float(np.mean(v)), float(np.max(v))) for name, v in errors.items()},
        {name: {h: float(np.sqrt(np.mean(v))) for h, v in by_h.items()}
         for name, by_h in squared.items() if by_h},
    )  # fmt: skip
