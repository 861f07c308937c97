"""Error measures of predicted fields, per target field of a dataset schema."""

from __future__ import annotations

import numpy as np
import torch

from surrogate.model.schema import Schema


def _array(values) -> np.ndarray:
    if torch.is_tensor(values):
        return values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64)


def relative_l2(prediction, truth) -> float:
    """||prediction - truth|| / ||truth|| over all nodes and components (arrays or tensors)."""
    prediction, truth = _array(prediction), _array(truth)
    return float(np.linalg.norm(prediction - truth) / np.linalg.norm(truth))


def rmse(prediction, truth) -> float:
    """Root mean squared error over all entries (nodes and components; given (T, N, C)
    states, also over the steps), as MeshGraphNets' evaluation averages: their rollout RMSE
    after h steps is rmse(predicted[:h], truth[:h])."""
    return float(np.sqrt(((_array(prediction) - _array(truth)) ** 2).mean()))


def field_errors(prediction, truth, schema: Schema) -> dict[str, float]:
    """{field: relative L2} of one state (N, C)."""
    return {
        name: relative_l2(prediction[..., part], truth[..., part])
        for name, part in schema.slices().items()
    }
