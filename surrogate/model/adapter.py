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
(surrogate.model.scales) enters all of this divided by its sample's scale, and the
prediction is multiplied back. A superposed target (surrogate.model.superposition) is
predicted as its responses to each component of its load, combined with the load's
direction, which the network does not see.

What a step's features and prediction share (the pinned mask, the prescribed values, the
samples' scales) is computed once per step, as a `Step`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from solvers.errors import InputError
from surrogate.graph import MeshGraph
from surrogate.model.scales import SampleScales, TargetScales
from surrogate.model.schema import Schema
from surrogate.model.superposition import Superposition
from surrogate.nn.layers import OnlineNormalizer
from surrogate.node_types import PINNED_ROLES


class Step(NamedTuple):
    """What the features and the prediction of one step share, for the nodes of a graph."""

    inputs: torch.Tensor  # (N, Ci) the raw input fields
    given: torch.Tensor  # (N, C) prescribed values of the pinned entries, 0 elsewhere
    pinned: torch.Tensor  # (N, C) True where a boundary condition prescribes the value
    scales: SampleScales


class FieldAdapter(nn.Module):
    """Features, normalisers, loss mask and time stepping for one dataset schema;
    `noise` is the standard deviation, in the targets' units (of its sample's scale for a
    scaled target), of the Gaussian noise added to the training state (transient only);
    `target_scales` ({target: "name * name / name"}, inputs or pinned targets) see
    surrogate.model.scales; `superpose` ({target: "load" or "|load|"}) see
    surrogate.model.superposition; `direct` (target names, transient only) are predicted as
    values, not changes."""

    def __init__(
        self,
        schema: Schema,
        noise: float = 0.0,
        target_scales: dict[str, str] | None = None,
        superpose: dict[str, str] | None = None,
        direct: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.schema, self.noise = schema, noise
        self.scales = TargetScales(target_scales, schema)
        self.superposition = Superposition(superpose, schema)
        self.transient = schema.transient
        pinned = torch.tensor(schema.pinned_channels(), dtype=torch.bool)
        self.register_buffer("pinned_channels", pinned)
        self.register_buffer("integrated", _integrated_channels(direct, schema))
        pinned_types = [name in PINNED_ROLES for name in schema.node_types]
        self.register_buffer("pinned_types", torch.tensor(pinned_types, dtype=torch.bool))
        self.input_norm = OnlineNormalizer(schema.input_size)
        self.value_norm = OnlineNormalizer(schema.target_size)  # target values (state, given)
        self.output_norm = OnlineNormalizer(schema.target_size)  # what the network predicts
        self.magnitude_norm = OnlineNormalizer(len(self.scales.scaled_targets))

    @property
    def in_dim(self) -> int:
        state = int(self.integrated.sum()) if self.transient else 0
        magnitudes, types = len(self.scales.scaled_targets), len(self.schema.node_types)
        return self.schema.input_size + magnitudes + state + self.schema.target_size + types

    @property
    def out_dim(self) -> int:
        return self.superposition.out_dim

    def pinned(self, graph: MeshGraph) -> torch.Tensor:
        """(N, C) True where the value is prescribed by a boundary condition."""
        on_pinned_node = (graph.node_type[:, self.pinned_types] > 0).any(dim=1)
        return on_pinned_node[:, None] & self.pinned_channels[None, :]

    def step(self, graph, inputs, given, pinned: torch.Tensor | None = None) -> Step:
        """The Step of a graph for its raw inputs (N, Ci) and the targets' values at the
        predicted time (N, C; only the pinned entries are read); `pinned` as self.pinned
        gives it, when the caller already has it."""
        pinned = self.pinned(graph) if pinned is None else pinned
        given = torch.where(pinned, given, 0.0)
        return Step(inputs, given, pinned, self.scales(graph, inputs, given))

    def features(self, step: Step, state: torch.Tensor | None, node_type) -> torch.Tensor:
        """(N, in_dim) network input for the state at t (None when steady)."""
        scale, input_scale, log_magnitudes = step.scales
        parts = [self.input_norm(self.superposition.load_shapes(step.inputs / input_scale))]
        if log_magnitudes is not None:
            parts.append(self.magnitude_norm(log_magnitudes))
        if self.transient:
            parts.append(self.value_norm.transform(state / scale)[:, self.integrated])
        given = self.value_norm.transform(step.given / scale)
        return torch.cat([*parts, torch.where(step.pinned, given, 0.0), node_type], dim=1)

    def training_example(self, graph: MeshGraph, state: torch.Tensor | None):
        """(features, normalised target, loss mask, step) of a batch of dataset items, from
        its inputs, the state at t (None when steady) and y; in training mode the
        normalisers gather statistics and noise perturbs the state."""
        step = self.step(graph, graph.inputs, graph.y)
        scale, free = step.scales.targets, ~step.pinned
        if self.training:
            self.value_norm(graph.y / scale)
        if self.transient:
            if self.training and self.noise > 0:
                state = state + self.noise * torch.randn_like(state) * free * scale
            # the noisy state must still reach y
            target = self.output_norm((graph.y - state * self.integrated) / scale)
        else:
            target = self.output_norm(graph.y / scale)
        return self.features(step, state, graph.node_type), target, free, step

    def normalized(self, graph, output, step: Step) -> torch.Tensor:
        """(N, C) normalised targets (or changes) from the network output (N, out_dim)."""
        return self.superposition.combine(graph, output, step.inputs, self.output_norm)

    def predict(self, graph, output, step: Step, state) -> torch.Tensor:
        """(N, C) targets in their units: the network output un-normalised and scaled
        (added to the state when transient), with pinned entries set to their given
        values."""
        normalized = self.normalized(graph, output, step)
        value = self.output_norm.inverse(normalized) * step.scales.targets
        if self.transient:
            value = state * self.integrated + value
        return torch.where(step.pinned, step.given, value)


def _integrated_channels(direct: list[str] | None, schema: Schema) -> torch.Tensor:
    """(C,) True for the target channels a transient model predicts as changes."""
    direct = list(direct or [])
    targets = schema.target_slices("direct", direct)
    if direct and not schema.transient:
        raise InputError("direct is for transient problems; a steady model predicts values.")
    integrated = torch.ones(schema.target_size, dtype=torch.bool)
    for name in direct:
        integrated[targets[name]] = False
    return integrated


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor):
    """Mean squared error over the entries the mask keeps."""
    squared = (prediction - target) ** 2 * mask
    return squared.sum() / mask.sum().clamp(min=1)
