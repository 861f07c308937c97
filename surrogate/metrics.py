"""Error measures of predicted fields, per target field of a dataset schema."""

from __future__ import annotations

import numpy as np
import torch

from solvers.errors import InputError


def _array(values) -> np.ndarray:
    if torch.is_tensor(values):
        return values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64)


def field_slices(schema: dict, role: str = "targets") -> dict[str, slice]:
    """Channel range of each target (or input) field in the stacked (..., C) values."""
    slices, start = {}, 0
    for name, size, *_ in schema[role]:
        slices[name] = slice(start, start + size)
        start += size
    return slices


def named_target_slices(option: str, names, schema: dict) -> dict[str, slice]:
    """field_slices of the targets, after checking that a model option names only targets."""
    targets = field_slices(schema)
    unknown = sorted(set(names) - set(targets))
    if unknown:
        raise InputError(
            f"{option} names {', '.join(unknown)}, which the dataset does not predict; "
            f"expected targets among {', '.join(targets)}."
        )
    return targets


def relative_l2(prediction, truth) -> float:
    """||prediction - truth|| / ||truth|| over all nodes and components (arrays or tensors)."""
    prediction, truth = _array(prediction), _array(truth)
    return float(np.linalg.norm(prediction - truth) / np.linalg.norm(truth))


def rmse(prediction, truth) -> float:
    """Root mean squared error over all entries (nodes and components; given (T, N, C)
    states, also over the steps), as MeshGraphNets' evaluation averages: their rollout RMSE
    after h steps is rmse(predicted[:h], truth[:h])."""
    return float(np.sqrt(((_array(prediction) - _array(truth)) ** 2).mean()))


def field_errors(prediction, truth, schema: dict) -> dict:
    """{field: relative L2} of one state (N, C)."""
    return {
        name: relative_l2(prediction[..., part], truth[..., part])
        for name, part in field_slices(schema).items()
    }
