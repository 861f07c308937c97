"""Reduce and Lift through a sparse assignment: each fine node i gives weights w_ij (rows sum
to 1) to k coarse nodes j = index[i]. Hard assignments have k = 1 and w = 1."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.utils import scatter, softmax

from surrogate.nn.layers import mlp


def reduce(
    x: torch.Tensor, index: torch.Tensor, weight: torch.Tensor, num_coarse: int
) -> torch.Tensor:
    """(K, C) coarse features: normalised S^T x, i.e. the assignment-weighted mean."""
    flat_index = index.reshape(-1)
    weighted = (x.unsqueeze(1) * weight.unsqueeze(-1)).reshape(-1, x.shape[1])
    total = scatter(weighted, flat_index, dim=0, dim_size=num_coarse, reduce="sum")
    mass = scatter(weight.reshape(-1), flat_index, dim=0, dim_size=num_coarse, reduce="sum")
    return total / mass.clamp(min=1e-12).unsqueeze(1)


def lift(x_coarse: torch.Tensor, index: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """(N, C) fine features: S x_coarse."""
    return (x_coarse[index] * weight.unsqueeze(-1)).sum(dim=1)


class LearnedAssignment(nn.Module):
    """DiffPool's learned soft assignment, restricted to each fine node's k candidate coarse
    nodes (its own cluster and the nearest others): O(N k) instead of O(N^2).

    Scores come from the fine node's features and the (normalised) offset to each candidate;
    a softmax over the k candidates makes rows sum to 1."""

    def __init__(self, latent: int, dim: int) -> None:
        super().__init__()
        self.score = mlp(latent + dim + 1, 1, latent, layers=2, layer_norm=False)

    def forward(self, h, pos, coarse_pos, candidates, scale: torch.Tensor):
        n, k = candidates.shape
        offset = (coarse_pos[candidates] - pos.unsqueeze(1)) / scale  # (N, k, d)
        features = torch.cat(
            [h.unsqueeze(1).expand(n, k, h.shape[1]), offset, offset.norm(dim=-1, keepdim=True)],
            dim=-1,
        )
        logits = self.score(features).squeeze(-1)  # (N, k)
        rows = torch.arange(n, device=h.device).repeat_interleave(k)
        return softmax(logits.reshape(-1), rows, num_nodes=n).reshape(n, k)
