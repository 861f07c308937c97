"""Error measures of predicted fields, per target field of a dataset schema."""

from __future__ import annotations

import torch


def field_slices(schema: dict) -> dict[str, slice]:
    """Channel range of each target field in the stacked (..., C) targets."""
    slices, start = {}, 0
    for name, size, _ in schema["targets"]:
        slices[name] = slice(start, start + size)
        start += size
    return slices


def relative_l2(prediction: torch.Tensor, truth: torch.Tensor) -> float:
    """||prediction - truth|| / ||truth|| over all nodes and components."""
    return float(torch.linalg.vector_norm(prediction - truth) / torch.linalg.vector_norm(truth))


def rmse(prediction: torch.Tensor, truth: torch.Tensor) -> float:
    """Root mean squared error per node (vector fields: of the Euclidean error norm, as
    MeshGraphNets reports velocity errors)."""
    squared = ((prediction - truth) ** 2).sum(dim=-1)
    return float(squared.mean().sqrt())


def field_errors(prediction: torch.Tensor, truth: torch.Tensor, schema: dict) -> dict:
    """{field: relative L2} of one state (N, C)."""
    return {
        name: relative_l2(prediction[..., part], truth[..., part])
        for name, part in field_slices(schema).items()
    }
