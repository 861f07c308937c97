"""Multigrid Graph U-Net: message passing on every level of a precomputed mesh hierarchy.

    encode -> [blocks -> pool] x (L-1) -> blocks at the coarsest level
           -> [lift -> concat skip -> blocks] x (L-1) -> decode

Edge features (relative position and length, through a learned normaliser) are encoded
and updated at every level. With one level this is the flat MeshGraphNet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from surrogate.graph import MeshGraph
from surrogate.nn.attention import CoarseAttention
from surrogate.nn.layers import OnlineNormalizer, mlp
from surrogate.nn.message_passing import GraphNetBlock, chunked
from surrogate.nn.pooling import LearnedAssignment, lift, reduce

ASSIGNMENTS = ("hard", "learned")


@dataclass
class UNetConfig:
    """Plain numbers and strings only, so a checkpoint can store it safely.

    blocks: message-passing blocks per level, finest first; the same count runs on the way
        down and on the way up (the coarsest level runs once). len(blocks) is the number of
        levels the data's hierarchy must have.
    attention_heads: > 0 adds self-attention with that many heads among the coarsest
        level's nodes after its blocks (surrogate.nn.attention); 0, none.
    checkpoint: activation checkpointing in training (less memory, more time: see the
        README's model scaling table); the gradients are the same.
    """

    in_dim: int
    out_dim: int
    dim: int = 2
    latent: int = 128
    blocks: list[int] = field(default_factory=lambda: [1, 2, 2, 4])
    mlp_layers: int = 2
    assignment: str = "hard"
    attention_heads: int = 0
    checkpoint: bool = False

    def __post_init__(self) -> None:
        if self.assignment not in ASSIGNMENTS:
            raise ValueError(
                f"assignment '{self.assignment}' is unknown; expected one of {ASSIGNMENTS}."
            )
        if self.attention_heads < 0 or (
            self.attention_heads and (self.latent % self.attention_heads or len(self.blocks) < 2)
        ):
            raise ValueError(
                f"attention_heads is {self.attention_heads}; expected 0, or a divisor of "
                f"latent ({self.latent}) with at least two levels (one would attend over "
                "every mesh node)."
            )
        if not self.blocks or min(self.blocks) < 1:
            raise ValueError(f"blocks is {self.blocks}; expected at least one block per level.")


class MultigridUNet(nn.Module):
    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        c, levels = config.latent, len(config.blocks)
        self.node_encoder = mlp(config.in_dim, c, c, config.mlp_layers)
        self.edge_normalizers = nn.ModuleList(
            OnlineNormalizer(config.dim + 1) for _ in range(levels)
        )
        self.edge_encoders = nn.ModuleList(
            mlp(config.dim + 1, c, c, config.mlp_layers) for _ in range(levels)
        )
        block = lambda: GraphNetBlock(c, config.mlp_layers)  # noqa: E731
        self.down = nn.ModuleList(
            nn.ModuleList(block() for _ in range(n)) for n in config.blocks[:-1]
        )
        self.bottom = nn.ModuleList(block() for _ in range(config.blocks[-1]))
        self.up = nn.ModuleList(
            nn.ModuleList(block() for _ in range(n)) for n in config.blocks[:-1]
        )
        self.merge = nn.ModuleList(nn.Linear(2 * c, c) for _ in config.blocks[:-1])
        self.assign = nn.ModuleList(
            LearnedAssignment(c, config.dim)
            for _ in config.blocks[:-1]
            if config.assignment == "learned"
        )
        # an option of the architecture: a network without it has no attention weights
        self.coarse_attention = (
            CoarseAttention(c, config.dim, config.attention_heads)
            if config.attention_heads
            else None
        )
        self.decoder = mlp(c, config.out_dim, c, config.mlp_layers, layer_norm=False)

    @property
    def num_levels(self) -> int:
        return len(self.config.blocks)

    def forward(self, data: MeshGraph) -> torch.Tensor:
        """(N, out_dim) per-node outputs for node features data.x (N, in_dim)."""
        self._check_levels(data)
        edges = [self._encode_edges(data, l) for l in range(self.num_levels)]
        h = self._checkpointed(chunked, self.node_encoder, (data.x,))
        skips, assignments = [], []
        for l, blocks in enumerate(self.down):
            h, edges[l] = self._run(blocks, h, edges[l], data.level(l)[1])
            skips.append(h)
            index, weight = self._assignment(data, l, h)
            assignments.append((index, weight))
            h = reduce(h, index, weight, data.level_size(l + 1))
        bottom = self.num_levels - 1
        h, edges[-1] = self._run(self.bottom, h, edges[-1], data.level(bottom)[1])
        if self.coarse_attention is not None:
            h = self.coarse_attention(h, data.level(bottom)[0], data.level_batch(bottom))
        for l in reversed(range(self.num_levels - 1)):
            lift_and_merge = partial(self._lift_and_merge, l, h)
            h = self._checkpointed(chunked, lift_and_merge, (*assignments[l], skips[l]))
            h, edges[l] = self._run(self.up[l], h, edges[l], data.level(l)[1])
        return self._checkpointed(chunked, self.decoder, (h,))

    def _lift_and_merge(self, l: int, coarse, index, weight, skip) -> torch.Tensor:
        return self.merge[l](torch.cat([lift(coarse, index, weight), skip], dim=1))

    def _encode_edges(self, data: MeshGraph, l: int) -> torch.Tensor:
        # The normaliser stays outside the checkpoint: a recomputation must not count twice.
        normalized = self.edge_normalizers[l](data.level(l)[2])
        return self._checkpointed(chunked, self.edge_encoders[l], (normalized,))

    def _run(self, blocks, h, e, edge_index):
        for block in blocks:
            h, e = self._checkpointed(block, h, e, edge_index)
        return h, e

    def _checkpointed(self, function, *args):
        """function(*args); with config.checkpoint, in training, its activations are not
        kept but recomputed in the backward pass (the encoders, blocks, lifts and decoder,
        which make the node- and edge-sized temporaries, run through here)."""
        if self.config.checkpoint and torch.is_grad_enabled():
            return checkpoint(function, *args, use_reentrant=False)
        return function(*args)

    def _assignment(self, data: MeshGraph, l: int, h: torch.Tensor):
        if self.config.assignment == "hard":
            index = data[f"cluster_{l}"].unsqueeze(1)
            return index, torch.ones(index.shape, dtype=h.dtype, device=h.device)
        candidates = data[f"candidates_{l}"]
        scale = self.edge_normalizers[l + 1].std[-1].to(h.dtype)  # typical coarse edge length
        weight = self.assign[l](h, data.level(l)[0], data.level(l + 1)[0], candidates, scale)
        return candidates, weight

    def _check_levels(self, data: MeshGraph) -> None:
        # A deeper hierarchy is fine: its first levels are the shallower one.
        levels = torch.as_tensor(data["num_levels"])  # an int, or one per graph in a batch
        if not bool((levels >= self.num_levels).all()):
            raise ValueError(
                f"the graph has {levels.tolist()} hierarchy level(s) but the network needs "
                f"{self.num_levels}; build the hierarchy with num_levels={self.num_levels}."
            )
