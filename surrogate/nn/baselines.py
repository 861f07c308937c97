"""Baselines run in the same harness as the U-Net: PyG's GraphUNet (TopK pooling, no edge
features) and a dense DiffPool U-Net (learned dense assignment, O(N^2) memory). The flat
MeshGraphNet is surrogate.nn.meshgraphnet: the U-Net with one level."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import DenseGraphConv, GraphUNet, dense_diff_pool
from torch_geometric.utils import to_dense_adj, to_dense_batch

from surrogate.graph import MeshGraph
from surrogate.nn.layers import mlp


class TopKGraphUNet(nn.Module):
    """PyG GraphUNet (Gao and Ji 2019): GCN layers, TopK pooling that keeps a fraction of
    the nodes, unpooling by writing back at the kept indices; ignores edge geometry."""

    def __init__(
        self, in_dim: int, out_dim: int, latent: int = 128, depth: int = 3, pool_ratio: float = 0.5
    ):
        super().__init__()
        self.unet = GraphUNet(in_dim, latent, out_dim, depth, pool_ratios=pool_ratio)

    def forward(self, data: MeshGraph) -> torch.Tensor:
        return self.unet(data.x, data.edge_index, getattr(data, "batch", None))


class DenseDiffPoolUNet(nn.Module):
    """DiffPool (Ying et al. 2018) as a U-Net: each level learns a dense soft assignment
    S (N_l x N_{l+1}); pooled features S^T X, pooled adjacency S^T A S; lifted back by S X
    and joined with the skip. Needs the dense N x N adjacency: memory grows as N^2."""

    def __init__(
        self, in_dim: int, out_dim: int, latent: int = 128, clusters: tuple[int, ...] = (64, 16)
    ):
        super().__init__()
        self.encoder = mlp(in_dim, latent, latent)
        sizes = list(clusters)
        self.embed = nn.ModuleList(DenseGraphConv(latent, latent) for _ in sizes)
        self.assign = nn.ModuleList(DenseGraphConv(latent, k) for k in sizes)
        self.bottom = DenseGraphConv(latent, latent)
        self.up = nn.ModuleList(DenseGraphConv(2 * latent, latent) for _ in sizes)
        self.decoder = mlp(latent, out_dim, latent, layer_norm=False)

    def forward(self, data: MeshGraph) -> torch.Tensor:
        batch = getattr(data, "batch", None)
        x, mask = to_dense_batch(self.encoder(data.x), batch)
        adj = to_dense_adj(data.edge_index, batch, max_num_nodes=x.shape[1])
        skips = []
        for embed, assign in zip(self.embed, self.assign, strict=True):
            x = torch.relu(embed(x, adj, mask))
            s = assign(x, adj, mask)
            skips.append((x, adj, mask, torch.softmax(s, dim=-1)))
            x, adj, _, _ = dense_diff_pool(x, adj, s, mask)
            mask = None
        x = torch.relu(self.bottom(x, adj))
        for up, (skip, adj, mask, s) in zip(reversed(self.up), reversed(skips), strict=True):
            x = torch.relu(up(torch.cat([s @ x, skip], dim=-1), adj, mask))
        return self.decoder(x[mask] if mask is not None else x.reshape(-1, x.shape[-1]))
