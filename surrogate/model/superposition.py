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
from surrogate.model.scales import samples_of
from surrogate.model.schema import Schema

_SPEC = re.compile(r"\s*(\|?)\s*(\w+)\s*(\|?)\s*")


class Superposition:
    """The superposed targets of a schema from `spec` ({target: "load"} for a target linear
    in the load input, {target: "|load|"} for the norm of one); an empty spec superposes
    nothing.

    Network output layout, target by target: C channels for a target as usual, C x K
    responses for a superposed one (linear), C x K x K matrices for a norm."""

    def __init__(self, spec: dict[str, str] | None, schema: Schema) -> None:
        spec = dict(spec or {})
        inputs, targets = schema.slices("input"), schema.slices()
        if spec and schema.transient:
            raise InputError(
                "superpose is for steady problems (a transient step also depends on the "
                "state, so it is not linear in the load); remove it from the config."
            )
        unknown = sorted(set(spec) - set(targets))
        if unknown:
            raise InputError(
                f"superpose names {', '.join(map(repr, unknown))}, which the dataset does not "
                f"predict; expected targets among {', '.join(targets)}."
            )
        self._loads = {}  # target -> (load channels, norm?)
        for target, text in spec.items():
            match = _SPEC.fullmatch(text) if isinstance(text, str) else None
            if not match or match[1] != match[3] or match[2] not in inputs:
                raise InputError(
                    f"superpose takes {target!r} as linear in {text!r}, which is not an input "
                    f"of the dataset or |input|; expected one of {', '.join(inputs)}."
                )
            self._loads[target] = (inputs[match[2]], bool(match[1]))
        # (target channels, load channels or None, norm?, network output columns)
        self._layout, column = [], 0
        for name, channels in targets.items():
            load, norm = self._loads.get(name, (None, False))
            k = 1 if load is None else load.stop - load.start
            width = (channels.stop - channels.start) * k ** (2 if norm else 1)
            self._layout.append((channels, load, norm, slice(column, column + width)))
            column += width
        self.out_dim = column

    def load_shapes(self, inputs: torch.Tensor) -> torch.Tensor:
        """inputs with each superposed load replaced by its norm per node (first channel;
        the others 0): where the load acts and how strongly, not its direction."""
        if not self._loads:
            return inputs
        shaped = inputs.clone()
        for load, _ in self._loads.values():
            norm = inputs[:, load].norm(dim=1)
            shaped[:, load] = 0.0
            shaped[:, load.start] = norm
        return shaped

    def combine(self, graph, output: torch.Tensor, inputs: torch.Tensor, normalizer):
        """(N, C) normalised targets from the network's (N, out_dim) output. The output
        normaliser's mean / std is subtracted from each superposed channel, so that its value
        in target units is exactly the combined response (zero without a load)."""
        if not self._loads:
            return output
        offset = (normalizer.mean / normalizer.std).to(output.dtype)
        pieces = []
        for channels, load, norm, columns in self._layout:
            if load is None:
                pieces.append(output[:, columns])
                continue
            direction = self._directions(graph, inputs[:, load])  # (N, K)
            k = direction.shape[1]
            shape = (len(output), -1, k, k) if norm else (len(output), -1, k)
            responses = output[:, columns].reshape(shape)
            if norm:
                value = torch.einsum("ncjk,nk->ncj", responses, direction).norm(dim=-1)
            else:
                value = torch.einsum("nck,nk->nc", responses, direction)
            pieces.append(value - offset[channels])
        return torch.cat(pieces, dim=1)

    @staticmethod
    def _directions(graph, load: torch.Tensor) -> torch.Tensor:
        """(N, K) the load's mean direction sum(t) / sum(|t|) over each node's sample."""
        batch, count = samples_of(graph, load)
        total = load.new_zeros(count, load.shape[1]).index_add_(0, batch, load)
        magnitude = load.new_zeros(count).index_add_(0, batch, load.norm(dim=1))
        return (total / magnitude.clamp(min=torch.finfo(load.dtype).tiny)[:, None])[batch]
