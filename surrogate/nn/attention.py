"""Self-attention among the coarsest level's nodes of each graph.

Message passing carries information one coarse edge per block, so a coarse graph of
diameter D needs D blocks before one side of the domain hears of the other; an elliptic
solution depends on all of its boundary at once. Attention over the few coarse nodes (tens
to hundreds) couples them all in one step at a cost that is negligible beside the fine
levels: the coarse-grid solve of multigrid."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.utils import scatter, to_dense_batch


class CoarseAttention(nn.Module):
    """h + MultiheadAttention(LayerNorm(h) + P(x)), attending within each graph only; x
    is the node's position relative to its graph's centroid in units of the graph's RMS
    radius, so that this input does not depend on where the mesh lies or its size."""

    def __init__(self, latent: int, dim: int, heads: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(latent)
        self.position = nn.Linear(dim, latent)
        self.attention = nn.MultiheadAttention(latent, heads, batch_first=True)

    def forward(self, h: torch.Tensor, pos: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        centred = pos - scatter(pos, batch, dim=0, reduce="mean")[batch]
        radius = scatter(centred.pow(2).sum(1), batch, dim=0, reduce="mean").sqrt()
        relative = centred / radius.clamp(min=1e-12)[batch, None]
        dense, mask = to_dense_batch(self.norm(h) + self.position(relative), batch)
        out, _ = self.attention(dense, dense, dense, key_padding_mask=~mask, need_weights=False)
        return h + out[mask]
