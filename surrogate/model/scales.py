"""Per-sample scales of the targets, for datasets whose magnitudes span orders of size.

A plate's displacement is proportional to traction / E; across a dataset where both vary,
it spans orders of magnitude that one global normaliser cannot serve (the small ones are
learnt badly). Declaring `displacement: "traction / E"` makes the network predict the
displacement divided by that product of per-sample magnitudes, which depends only on the
geometry and the dimensionless inputs. Each named input's magnitude is its largest
Euclidean norm over the sample's nodes, and the network sees that input divided by it (a
direction or a shape), so a prediction scales exactly with the load and the stiffness,
outside the trained range too.

A scale may also name a pinned target: its magnitude is the largest norm of its
prescribed values at the predicted time (a channel's peak inflow speed), and that target
enters the features divided by it, as the velocity of flows at many speeds does with
`velocity: velocity, pressure: velocity * velocity`. Such a response is not linear in the
magnitude (the inflow speed sets the Reynolds number), so the network also sees the
logarithm of each of these magnitudes.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import torch

from solvers.errors import InputError
from surrogate.model.schema import Schema

_EXPRESSION = re.compile(r"\s*\w+(\s*[*/]\s*\w+)*\s*")


def parse_scale(text: str, sources: list[str]) -> dict[str, int]:
    """ "a * b / c" -> {a: 1, b: 1, c: -1}; the names must be among sources."""
    if not isinstance(text, str) or not _EXPRESSION.fullmatch(text):
        raise InputError(
            f"target scale {text!r} is not a product of input or pinned target "
            'names; expected a form such as "traction / E".'
        )
    powers: dict[str, int] = {}
    sign = 1
    for token in re.findall(r"[*/]|\w+", text):
        if token in ("*", "/"):
            sign = 1 if token == "*" else -1
            continue
        if token not in sources:
            raise InputError(
                f"target scale {text!r} names {token!r}, which is not an input or a pinned "
                f"target of the dataset; expected one of {', '.join(sources) or '(none)'}."
            )
        powers[token] = powers.get(token, 0) + sign
    return powers


class SampleScales(NamedTuple):
    """What TargetScales gives for the nodes of a batch: the first two divide the values
    they name; the logs are features."""

    targets: torch.Tensor | float  # (N, C) for the targets (state, given and predicted)
    inputs: torch.Tensor | float  # (N, Ci) for the inputs
    log_magnitudes: torch.Tensor | None  # (N, k) of the pinned targets named, as features


class TargetScales:
    """Scales of a schema's targets from `spec` ({target name: "name * name / name"}, the
    names inputs or pinned targets); an empty spec scales nothing."""

    def __init__(self, spec: dict[str, str] | None, schema: Schema) -> None:
        spec = dict(spec or {})
        self._inputs = schema.slices("input")
        targets = schema.target_slices("target_scales", spec)
        pinned = [target.name for target in schema.targets if target.pinned]
        self._pinned = {name: targets[name] for name in pinned if name not in self._inputs}
        sources = [*self._inputs, *self._pinned]
        self._powers = [(targets[name], parse_scale(text, sources)) for name, text in spec.items()]
        named = {name for _, powers in self._powers for name in powers}
        self._scaled_inputs = sorted(named & set(self._inputs))
        self.scaled_targets = sorted(named & set(self._pinned))  # their logs are features
        self.input_size, self.target_size = schema.input_size, schema.target_size

    def __call__(self, graph, inputs: torch.Tensor, given: torch.Tensor) -> SampleScales:
        """The scales of each node's sample from its raw inputs (N, Ci) and the targets'
        prescribed values at the predicted time (N, C; zero where not pinned). 1.0 and 1.0
        when nothing is scaled: no work on every step of the models that need none."""
        if not self._powers:
            return SampleScales(1.0, 1.0, None)
        batch, count = samples_of(graph, inputs)

        def largest(values: torch.Tensor) -> torch.Tensor:
            norms = values.norm(dim=1)
            peak = norms.new_zeros(count).scatter_reduce(0, batch, norms, "amax")
            # A sample without that load (all zeros) is left unscaled rather than divided by 0.
            return torch.where(peak > 0, peak, 1.0)[batch]

        magnitude = {name: largest(inputs[:, self._inputs[name]]) for name in self._scaled_inputs}
        for name in self.scaled_targets:
            magnitude[name] = largest(given[:, self._pinned[name]])
        input_scale = inputs.new_ones(len(inputs), self.input_size)
        for name in self._scaled_inputs:
            input_scale[:, self._inputs[name]] = magnitude[name][:, None]
        target_scale = inputs.new_ones(len(inputs), self.target_size)
        for channels, powers in self._powers:
            for name, power in powers.items():
                target_scale[:, channels] *= magnitude[name][:, None] ** power
        logs = [magnitude[name].log() for name in self.scaled_targets]
        return SampleScales(target_scale, input_scale, torch.stack(logs, 1) if logs else None)


def samples_of(graph, values: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(batch, count): the sample of each row of values (N, ...) and the number of samples;
    a graph that is no batch, as in a rollout, is one sample."""
    batch = getattr(graph, "batch", None)
    if batch is None:
        return torch.zeros(len(values), dtype=torch.long, device=values.device), 1
    return batch, graph.num_graphs  # a count kept on the host: no device synchronisation
