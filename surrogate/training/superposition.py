"""Superposition of the responses to each component of a load, for steady targets linear
in it, or norms of something linear in it.

A linear problem's response to a load t = |t| d, one direction d over the load's support,
is d_x R_x + d_y R_y, where R_k is the response to that load turned along axis k.
Declaring `displacement: traction` makes the network see where the load acts and how
strongly (|t| per node) but not its direction, predict R_x and R_y, and combine them with
the sample's direction d = sum(t) / sum(|t|): the prediction is then exactly linear in the
direction, and the network need not learn how the response turns with the load.

A target that is the Euclidean norm of a quantity linear in the load, such as the von
Mises stress (the square root of a positive semi-definite quadratic form of the stress),
is |B d| for a K x K matrix B per node and channel: declaring `von_mises: "|traction|"`
makes the network predict B. Loads whose direction varies over their support are reduced
to that mean direction.
"""

from __future__ import annotations

import re

import torch

from solvers.errors import InputError
from surrogate.metrics import field_slices
from surrogate.training.scales import samples_of

_SPEC = re.compile(r"\s*(\|?)\s*(\w+)\s*(\|?)\s*")


class Superposition:
    """The superposed targets of a schema from `spec` ({target: "load"} for a target linear
    in the load input, {target: "|load|"} for the norm of one); an empty spec superposes
    nothing.

    Network output layout: one channel per target as usual (unused for superposed ones),
    then per superposed target its C x K responses (linear) or C x K x K matrices (norm)."""

    def __init__(self, spec: dict[str, str] | None, schema: dict) -> None:
        spec = dict(spec or {})
        inputs, targets = field_slices(schema, "inputs"), field_slices(schema)
        if spec and schema["transient"]:
            raise InputError(
                "superpose is for steady problems (a transient step also depends on the "
                "state, so it is not linear in the load); remove it from the config."
            )
        self.target_size = sum(size for _, size, _ in schema["targets"])
        self._parts, self.extra = [], 0  # (target channels, load channels, norm?, first output)
        for target, text in spec.items():
            if target not in targets:
                raise InputError(
                    f"superpose names {target!r}, which the dataset does not predict; "
                    f"expected targets among {', '.join(targets)}."
                )
            match = _SPEC.fullmatch(text) if isinstance(text, str) else None
            if not match or match[1] != match[3] or match[2] not in inputs:
                raise InputError(
                    f"superpose takes {target!r} as linear in {text!r}, which is not an input "
                    f"of the dataset or |input|; expected one of {', '.join(inputs)}."
                )
            channels, load, norm = targets[target], inputs[match[2]], bool(match[1])
            components = load.stop - load.start
            self._parts.append((channels, load, norm, self.target_size + self.extra))
            self.extra += (channels.stop - channels.start) * components ** (2 if norm else 1)

    def load_shapes(self, inputs: torch.Tensor) -> torch.Tensor:
        """inputs with each superposed load replaced by its norm per node (first channel;
        the others 0): where the load acts and how strongly, not its direction."""
        if not self._parts:
            return inputs
        shaped = inputs.clone()
        for _, load, _, _ in self._parts:
            norm = inputs[:, load].norm(dim=1)
            shaped[:, load] = 0.0
            shaped[:, load.start] = norm
        return shaped

    def combine(self, graph, output: torch.Tensor, inputs: torch.Tensor, normalizer):
        """(N, target_size) normalised targets from the network's (N, target_size + extra)
        output. The output normaliser's mean / std is subtracted from each superposed
        channel, so that its value in target units is exactly the combined response (zero
        without a load)."""
        if not self._parts:
            return output
        offset = (normalizer.mean / normalizer.std).to(output.dtype)
        combined = output[:, : self.target_size].clone()
        for channels, load, norm, first in self._parts:
            direction = self._directions(graph, inputs[:, load])  # (N, K)
            rows, size, k = len(output), channels.stop - channels.start, direction.shape[1]
            shape = (rows, size, k, k) if norm else (rows, size, k)
            responses = output[:, first : first + size * k ** (2 if norm else 1)].reshape(shape)
            if norm:
                value = torch.einsum("ncjk,nk->ncj", responses, direction).norm(dim=-1)
            else:
                value = torch.einsum("nck,nk->nc", responses, direction)
            combined[:, channels] = value - offset[channels]
        return combined

    @staticmethod
    def _directions(graph, load: torch.Tensor) -> torch.Tensor:
        """(N, K) the load's mean direction sum(t) / sum(|t|) over each node's sample."""
        batch, count = samples_of(graph, load)
        total = load.new_zeros(count, load.shape[1]).index_add_(0, batch, load)
        magnitude = load.new_zeros(count).index_add_(0, batch, load.norm(dim=1))
        return (total / magnitude.clamp(min=torch.finfo(load.dtype).tiny)[:, None])[batch]
