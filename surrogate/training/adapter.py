"""The per-problem side of a surrogate (MeshGraphNets' split of model and physics): which
node features the generic network sees, how they are normalised, which outputs the loss
counts, and how a prediction becomes the next state.

Node features, all per node:
    [inputs (normalised), log magnitudes of the pinned targets that scale others (only
     with such scales, normalised), state at t (transient only, normalised, direct targets
     left out), prescribed values of the pinned targets at the predicted time (0 elsewhere),
     node type one-hot]
The network predicts the normalised targets (steady) or their normalised change over one
step (transient), except direct targets (the pressure of incompressible flow, a function of
the velocity rather than a state of its own), which are predicted as values and not fed back
as state, as in MeshGraphNets' cylinder_flow. Pinned entries, a pinned target field on a
dirichlet, inflow, wall or obstacle node, are given to the network, left out of the loss
and overwritten with the prescribed values in every prediction. A target with a declared scale
(surrogate.training.scales) enters all of this divided by its sample's scale, and the
prediction is multiplied back. A superposed target (surrogate.training.superposition) is
predicted as its responses to each component of its load, combined with the load's
direction, which the network does not see.
"""

from __future__ import annotations

import torch
from torch import nn

from solvers.errors import InputError
from surrogate.graph import MeshGraph
from surrogate.metrics import named_target_slices
from surrogate.nn.layers import OnlineNormalizer
from surrogate.training.scales import TargetScales
from surrogate.training.superposition import Superposition

PINNED_TYPES = ("dirichlet", "inflow", "wall", "obstacle")


class FieldAdapter(nn.Module):
    """Features, normalisers, loss mask and time stepping for one dataset schema
    (surrogate.data.graphs.dataset_schema); `noise` is the standard deviation, in the
    targets' units (of its sample's scale for a scaled target), of the Gaussian noise added
    to the training state (transient only); `target_scales` ({target: "name * name /
    name"}, inputs or pinned targets) see surrogate.training.scales;
    `superpose` ({target: "load" or "|load|"}) see surrogate.training.superposition;
    `direct` (target names, transient only) are predicted as values, not changes."""

    def __init__(
        self,
        schema: dict,
        noise: float = 0.0,
        target_scales: dict[str, str] | None = None,
        superpose: dict[str, str] | None = None,
        direct: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.schema, self.noise = schema, noise
        self.scales = TargetScales(target_scales, schema)
        self.superposition = Superposition(superpose, schema)
        self.transient = bool(schema["transient"])
        self.input_size = sum(size for _, size in schema["inputs"])
        self.target_size = sum(size for _, size, _ in schema["targets"])
        pinned = [p for _, size, p in schema["targets"] for _ in range(size)]
        self.register_buffer("pinned_channels", torch.tensor(pinned, dtype=torch.bool))
        self.register_buffer("integrated", _integrated_channels(direct, schema))
        types = schema["node_types"]
        pinned_types = [name in PINNED_TYPES for name in types]
        self.register_buffer("pinned_types", torch.tensor(pinned_types, dtype=torch.bool))
        self.input_norm = OnlineNormalizer(self.input_size)
        self.value_norm = OnlineNormalizer(self.target_size)  # target values (state, given)
        self.output_norm = OnlineNormalizer(self.target_size)  # what the network predicts
        if self.scales.scaled_targets:  # only then: checkpoints of other models keep loading
            self.magnitude_norm = OnlineNormalizer(len(self.scales.scaled_targets))

    @property
    def in_dim(self) -> int:
        state = int(self.integrated.sum()) if self.transient else 0
        magnitudes, types = len(self.scales.scaled_targets), len(self.schema["node_types"])
        return self.input_size + magnitudes + state + self.target_size + types

    @property
    def out_dim(self) -> int:
        return self.superposition.out_dim

    def pinned(self, graph: MeshGraph) -> torch.Tensor:
        """(N, C) True where the value is prescribed by a boundary condition."""
        on_pinned_node = (graph.node_type[:, self.pinned_types] > 0).any(dim=1)
        return on_pinned_node[:, None] & self.pinned_channels[None, :]

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A dataset item's x -> (inputs, state at t or None when steady)."""
        inputs = x[:, : self.input_size]
        return inputs, (x[:, self.input_size :] if self.transient else None)

    def features(self, graph, inputs, state, given) -> torch.Tensor:
        """(N, in_dim) network input; `given` (N, C) holds the targets' values at the
        predicted time wherever they are pinned (other entries are ignored)."""
        pinned = self.pinned(graph)
        given = torch.where(pinned, given, 0.0)
        scale, input_scale, log_magnitudes = self.scales(graph, inputs, given)
        parts = [self.input_norm(self.superposition.load_shapes(inputs / input_scale))]
        if log_magnitudes is not None:
            parts.append(self.magnitude_norm(log_magnitudes))
        if self.transient:
            parts.append(self.value_norm.transform(state / scale)[:, self.integrated])
        given = self.value_norm.transform(given / scale)
        return torch.cat([*parts, torch.where(pinned, given, 0.0), graph.node_type], dim=1)

    def sample_scales(self, graph, inputs, given):
        """surrogate.training.scales.SampleScales of the graph's samples."""
        return self.scales(graph, inputs, torch.where(self.pinned(graph), given, 0.0))

    def training_example(self, graph: MeshGraph):
        """(features, normalised target, loss mask) of a batch of dataset items; in
        training mode the normalisers gather statistics and noise perturbs the state."""
        inputs, state = self.split(graph.x)
        scale = self.sample_scales(graph, inputs, graph.y).targets
        free = ~self.pinned(graph)
        if self.training:
            self.value_norm(graph.y / scale)
        if self.transient:
            if self.training and self.noise > 0:
                state = state + self.noise * torch.randn_like(state) * free * scale
            # the noisy state must still reach y
            target = self.output_norm((graph.y - state * self.integrated) / scale)
        else:
            target = self.output_norm(graph.y / scale)
        return self.features(graph, inputs, state, graph.y), target, free

    def normalized(self, graph, output, inputs) -> torch.Tensor:
        """(N, C) normalised targets (or changes) from the network output (N, out_dim) for
        the graph's raw inputs (N, Ci)."""
        return self.superposition.combine(graph, output, inputs, self.output_norm)

    def predict(self, graph, output, inputs, state, given) -> torch.Tensor:
        """(N, C) targets in their units: the network output un-normalised and scaled
        (added to the state when transient), with pinned entries set to their given
        values."""
        scale = self.sample_scales(graph, inputs, given).targets
        value = self.output_norm.inverse(self.normalized(graph, output, inputs)) * scale
        if self.transient:
            value = state * self.integrated + value
        return torch.where(self.pinned(graph), given, value)


def _integrated_channels(direct: list[str] | None, schema: dict) -> torch.Tensor:
    """(C,) True for the target channels a transient model predicts as changes."""
    direct = list(direct or [])
    targets = named_target_slices("direct", direct, schema)
    if direct and not schema["transient"]:
        raise InputError("direct is for transient problems; a steady model predicts values.")
    integrated = torch.ones(sum(size for _, size, _ in schema["targets"]), dtype=torch.bool)
    for name in direct:
        integrated[targets[name]] = False
    return integrated


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor):
    """Mean squared error over the entries the mask keeps."""
    squared = (prediction - target) ** 2 * mask
    return squared.sum() / mask.sum().clamp(min=1)
