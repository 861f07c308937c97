"""A trained surrogate as it predicts: the generic network, its per-problem adapter and the
hierarchy options its graphs are built with. No training here (surrogate.training wraps
it in a LightningModule), so inference needs neither Lightning nor a dataset."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from solvers.errors import InputError
from surrogate.graph import MeshGraph
from surrogate.model.adapter import FieldAdapter
from surrogate.model.schema import Schema, as_schema
from surrogate.nn import build_network, levels_needed


class Surrogate(nn.Module):
    """network: {"name": unet | meshgraphnet | graphunet | diffpool, **options}; schema:
    the dataset's; hierarchy: build_hierarchy options; noise, target_scales, superpose and
    direct: the adapter's (surrogate.model.adapter)."""

    def __init__(
        self,
        network: dict[str, Any],
        schema: Schema | dict[str, Any],
        hierarchy: dict[str, Any],
        noise: float = 0.0,
        target_scales: dict[str, str] | None = None,
        superpose: dict[str, str] | None = None,
        direct: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.schema, self.hierarchy = as_schema(schema), dict(hierarchy)
        # what a checkpoint must agree on to serve as this model (fine-tuning compares it)
        self.settings = {
            "network": network,
            "hierarchy": self.hierarchy,
            "noise": noise,
            "target_scales": target_scales,
            "superpose": superpose,
            "direct": direct,
        }
        if levels_needed(network) > self.hierarchy.get("num_levels", 4):
            raise InputError(
                f"the network needs {levels_needed(network)} hierarchy levels but the data "
                f"builds {self.hierarchy.get('num_levels', 4)}; set data.hierarchy.num_levels."
            )
        self.adapter = FieldAdapter(self.schema, noise, target_scales, superpose, direct)
        try:
            self.network = build_network(
                network, self.adapter.in_dim, self.adapter.out_dim, self.schema.dim
            )
        except (TypeError, ValueError) as error:
            raise InputError(str(error)) from None

    def forward(self, graph: MeshGraph) -> torch.Tensor:
        """(N, out_dim) network output for the features in graph.x."""
        try:
            return self.network(graph)
        except ValueError as error:  # the data does not fit the network (hierarchy depth)
            raise InputError(str(error)) from None
