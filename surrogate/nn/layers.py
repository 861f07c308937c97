"""Small building blocks: MLPs as in MeshGraphNets, and an online normaliser."""

from __future__ import annotations

import torch
from torch import nn


def mlp(
    in_dim: int, out_dim: int, hidden: int, layers: int = 2, layer_norm: bool = True
) -> nn.Sequential:
    """Linear-ReLU x layers, then Linear; LayerNorm on the output unless it is a decoder."""
    modules: list[nn.Module] = []
    dim = in_dim
    for _ in range(layers):
        modules += [nn.Linear(dim, hidden), nn.ReLU()]
        dim = hidden
    modules.append(nn.Linear(dim, out_dim))
    if layer_norm:
        modules.append(nn.LayerNorm(out_dim))
    return nn.Sequential(*modules)


class OnlineNormalizer(nn.Module):
    """Standardises features with running statistics gathered during the first
    `max_accumulations` training batches (MeshGraphNets' normaliser); stored as buffers,
    so they travel with the checkpoint."""

    def __init__(self, size: int, max_accumulations: int = 10**6, eps: float = 1e-8) -> None:
        super().__init__()
        self.max_accumulations, self.eps = max_accumulations, eps
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("total", torch.zeros(size, dtype=torch.float64))
        self.register_buffer("total_sq", torch.zeros(size, dtype=torch.float64))
        self.register_buffer("accumulations", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x standardised; in training mode, x first joins the statistics."""
        if self.training and self.accumulations < self.max_accumulations:
            with torch.no_grad():
                values = x.detach().to(torch.float64)
                self.count += values.shape[0]
                self.total += values.sum(0)
                self.total_sq += (values**2).sum(0)
                self.accumulations += 1
        return self.transform(x)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """x standardised with the statistics as they are (never accumulates)."""
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.std.to(z.dtype) + self.mean.to(z.dtype)

    @property
    def mean(self) -> torch.Tensor:
        return self.total / self.count.clamp(min=1)

    @property
    def std(self) -> torch.Tensor:
        variance = self.total_sq / self.count.clamp(min=1) - self.mean**2
        return (
            variance.clamp(min=0).sqrt().clamp(min=self.eps)
            if self.count > 0
            else torch.ones_like(self.total)
        )
