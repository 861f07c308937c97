"""The MeshGraphNets processor block: edge update, sum aggregation, node update, residuals."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.utils import scatter

from surrogate.nn.layers import mlp

# Inference processes edges in chunks of this many: bounded memory, and chunks whose
# temporaries stay in cache (on a 100k-node mesh: 4.3 s forward with 32k-edge chunks,
# 7.3 s with 262k-edge chunks).
EDGE_CHUNK = 32_768


class GraphNetBlock(nn.Module):
    """e' = e + MLP_e([e, h_src, h_dst]); h' = h + MLP_n([h, sum_{edges into node} e']).

    The first edge layer is split as W_e e + (W_s h)[src] + (W_d h)[dst]: the node terms are
    computed once per node instead of once per edge (1.4x faster in the prototype)."""

    def __init__(self, latent: int, layers: int = 2) -> None:
        super().__init__()
        self.edge_e = nn.Linear(latent, latent)
        self.edge_src = nn.Linear(latent, latent, bias=False)
        self.edge_dst = nn.Linear(latent, latent, bias=False)
        self.edge_rest = nn.Sequential(nn.ReLU(), *mlp(latent, latent, latent, layers - 1))
        self.node_mlp = mlp(2 * latent, latent, latent, layers)

    def forward(self, h: torch.Tensor, e: torch.Tensor, edge_index: torch.Tensor):
        src, dst = edge_index
        h_src, h_dst = self.edge_src(h), self.edge_dst(h)
        if torch.is_grad_enabled() or e.shape[0] <= EDGE_CHUNK:
            e_new = e + self.edge_rest(self.edge_e(e) + h_src[src] + h_dst[dst])
            aggregated = scatter(e_new, dst, dim=0, dim_size=h.shape[0], reduce="sum")
        else:
            e_new, aggregated = self._chunked_edges(h, e, src, dst, h_src, h_dst)
        return h + self.node_mlp(torch.cat([h, aggregated], dim=1)), e_new

    def _chunked_edges(self, h, e, src, dst, h_src, h_dst):
        """Inference only: updates e in place (each chunk reads only its own rows), so no
        second edge-sized tensor is ever allocated."""
        aggregated = torch.zeros_like(h)
        for start in range(0, e.shape[0], EDGE_CHUNK):
            part = slice(start, start + EDGE_CHUNK)
            chunk = e[part]
            chunk += self.edge_rest(self.edge_e(chunk) + h_src[src[part]] + h_dst[dst[part]])
            aggregated.index_add_(0, dst[part], chunk)
        return e, aggregated


def chunked(module: nn.Module, x: torch.Tensor, out_dim: int) -> torch.Tensor:
    """module(x) row chunk by row chunk when no gradient is needed (bounded temporaries)."""
    if torch.is_grad_enabled() or x.shape[0] <= EDGE_CHUNK:
        return module(x)
    out = x.new_empty((x.shape[0], out_dim))
    for start in range(0, x.shape[0], EDGE_CHUNK):
        out[start : start + EDGE_CHUNK] = module(x[start : start + EDGE_CHUNK])
    return out
