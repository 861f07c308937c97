"""Per-sample scales of the targets, for problems whose response is linear in a load.

A plate's displacement is proportional to traction / E; across a dataset where both vary,
it spans orders of magnitude that one global normaliser cannot serve (the small ones are
learnt badly). Declaring `displacement: "traction / E"` makes the network predict the
displacement divided by that product of per-sample magnitudes, which depends only on the
geometry and the dimensionless inputs. Each named input's magnitude is its largest
Euclidean norm over the sample's nodes, and the network sees that input divided by it (a
direction or a shape), so a prediction scales exactly with the load and the stiffness,
outside the trained range too.
"""

from __future__ import annotations

import re

import torch

from solvers.errors import InputError
from surrogate.metrics import field_slices, named_target_slices

_EXPRESSION = re.compile(r"\s*\w+(\s*[*/]\s*\w+)*\s*")


def parse_scale(text: str, inputs: list[str]) -> dict[str, int]:
    """ "a * b / c" -> {a: 1, b: 1, c: -1}; the names must be inputs."""
    if not isinstance(text, str) or not _EXPRESSION.fullmatch(text):
        raise InputError(
            f"target scale {text!r} is not a product of input names; expected a form such "
            'as "traction / E".'
        )
    powers: dict[str, int] = {}
    sign = 1
    for token in re.findall(r"[*/]|\w+", text):
        if token in ("*", "/"):
            sign = 1 if token == "*" else -1
            continue
        if token not in inputs:
            raise InputError(
                f"target scale {text!r} names {token!r}, which is not an input of the dataset;"
                f" expected one of {', '.join(inputs) or '(none)'}."
            )
        powers[token] = powers.get(token, 0) + sign
    return powers


class TargetScales:
    """Scales of a schema's targets from `spec` ({target name: "input * input / input"});
    an empty spec scales nothing."""

    def __init__(self, spec: dict[str, str] | None, schema: dict) -> None:
        spec = dict(spec or {})
        self._inputs = field_slices(schema, "inputs")
        targets = named_target_slices("target_scales", spec, schema)
        self._powers = [
            (targets[name], parse_scale(text, list(self._inputs))) for name, text in spec.items()
        ]
        self._scaled_inputs = sorted({name for _, p in self._powers for name in p})
        self.input_size = sum(size for _, size in schema["inputs"])
        self.target_size = sum(size for _, size, _ in schema["targets"])

    def __call__(self, graph, inputs: torch.Tensor):
        """(N, C) target scales and (N, Ci) input scales of each node's sample (1.0 and 1.0
        when nothing is scaled: no work on every step of the models that need none)."""
        if not self._powers:
            return 1.0, 1.0
        batch, count = samples_of(graph, inputs)
        magnitude = {}
        for name in self._scaled_inputs:
            norms = inputs[:, self._inputs[name]].norm(dim=1)
            largest = norms.new_zeros(count).scatter_reduce(0, batch, norms, "amax")
            # A sample without that load (all zeros) is left unscaled rather than divided by 0.
            magnitude[name] = torch.where(largest > 0, largest, 1.0)[batch]
        input_scale = inputs.new_ones(len(inputs), self.input_size)
        for name in self._scaled_inputs:
            input_scale[:, self._inputs[name]] = magnitude[name][:, None]
        target_scale = inputs.new_ones(len(inputs), self.target_size)
        for channels, powers in self._powers:
            for name, power in powers.items():
                target_scale[:, channels] *= magnitude[name][:, None] ** power
        return target_scale, input_scale


def samples_of(graph, values: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(batch, count): the sample of each row of values (N, ...) and the number of samples;
    a graph that is no batch, as in a rollout, is one sample."""
    batch = getattr(graph, "batch", None)
    if batch is None:
        return torch.zeros(len(values), dtype=torch.long, device=values.device), 1
    return batch, graph.num_graphs  # a count kept on the host: no device synchronisation
