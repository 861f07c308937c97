"""Steady targets predicted as a mixture of their own Dirichlet values plus a response to a
source, for linear elliptic problems.

The solution of -div(kappa grad u) = f with u = g on the Dirichlet boundary is
u = H g + G f: at every node a weighted mean of the boundary values (the discrete harmonic
measure: weights >= 0 that sum to 1) plus a response linear in the source. Declaring
`u: source` (`u: null` for a problem without one) makes the network predict, per node i,
a query q_i and a key k_i (KEY_SIZE each), a locality b_i and a source response p_i, and
forms

    u_i = sum_j w_ij g_j + s p_i,
    w_ij = softmax over j of (q_i . k_j / sqrt(KEY_SIZE) - softplus(b_i) log |x_i - x_j|)

over the Dirichlet nodes j of node i's sample, s the sample's largest |f|. The network sees
neither g nor s (it sees f / s), so for a given shape of the source a prediction is
exactly linear in the boundary values plus a response proportional to the source's
amplitude, a constant boundary value without a source comes back exactly, and a new mesh
may have any number of Dirichlet parts. The log-distance term is the decay of the
half-plane Poisson kernel (b = 2 in 2D), learnt per node.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from solvers.errors import InputError
from surrogate.metrics import field_slices
from surrogate.training.scales import sample_magnitudes, samples_of

KEY_SIZE = 16
CHUNK_ROWS = 8192  # rows of weights at a time: a large mesh has thousands of Dirichlet nodes


class DirichletMixture:
    """The mixed targets of a schema from `spec` ({target: source input or None}); an empty
    spec mixes nothing.

    Network output: a mixed target's p takes its usual channels; after all targets' come
    2 KEY_SIZE + 1 columns (q, k, b) per mixed target, in the spec's order."""

    def __init__(self, spec: dict[str, str | None] | None, schema: dict) -> None:
        spec = dict(spec or {})
        targets, inputs = field_slices(schema), field_slices(schema, "inputs")
        if spec and schema["transient"]:
            raise InputError(
                "dirichlet_mixture is for steady problems (a transient step also depends on "
                "the state); remove it from the config."
            )
        pinned = {name: flag for name, _, flag in schema["targets"]}
        for target, source in spec.items():
            if not pinned.get(target):
                raise InputError(
                    f"dirichlet_mixture names {target!r}, which is not a target with prescribed"
                    f" values in the dataset; expected one of "
                    f"{', '.join(n for n, flag in pinned.items() if flag) or '(none)'}."
                )
            if source is not None and source not in inputs:
                raise InputError(
                    f"dirichlet_mixture takes {target!r} as responding to {source!r}, which is "
                    f"not an input of the dataset; expected null or one of {', '.join(inputs)}."
                )
        self._mixed = [(targets[t], None if s is None else inputs[s]) for t, s in spec.items()]
        self.out_dim = (2 * KEY_SIZE + 1) * len(self._mixed)
        self.hidden = torch.zeros(sum(size for _, size, _ in schema["targets"]), dtype=torch.bool)
        for channels, _ in self._mixed:
            self.hidden[channels] = True  # prescribed values the network must not see

    def input_scale(self, graph, inputs: torch.Tensor):
        """(N, Ci) the sources' per-sample magnitudes in their columns, 1 elsewhere (1.0
        when nothing is mixed)."""
        sources = [source for _, source in self._mixed if source is not None]
        if not sources:
            return 1.0
        scale = inputs.new_ones(inputs.shape)
        for source in sources:
            scale[:, source] = sample_magnitudes(graph, inputs[:, source])[:, None]
        return scale

    def combine(self, graph, values, extra, inputs, given, pinned, normalizer) -> torch.Tensor:
        """(N, C) normalised targets: values (N, C) as the other targets' layout gave them
        (a mixed target's p), with each mixed target replaced by its mixture; extra the
        (N, out_dim) columns of q, k and b; given (N, C) the prescribed values, read on the
        pinned (N, C) entries."""
        if not self._mixed:
            return values
        values = values.clone()
        mean, std = normalizer.mean.to(values.dtype), normalizer.std.to(values.dtype)
        width = 2 * KEY_SIZE + 1
        for n, (channels, source) in enumerate(self._mixed):
            columns = extra[:, n * width : (n + 1) * width]
            mixed = _mix(graph, columns, given[:, channels], pinned[:, channels.start])
            response = values[:, channels]
            if source is None:
                response = torch.zeros_like(response)
            else:
                magnitude = sample_magnitudes(graph, inputs[:, source], if_zero=0.0)
                response = response * magnitude[:, None]
            values[:, channels] = (mixed - mean[channels]) / std[channels] + response
        return values


def _mix(graph, columns: torch.Tensor, given: torch.Tensor, dirichlet: torch.Tensor):
    """(N, C) sum_j w_ij given_j over the Dirichlet nodes j of each node's sample (0 in a
    sample without any), from columns (N, 2 KEY_SIZE + 1) = [q, k, b]; in float32 even
    under autocast, as the weights of thousands of nodes are summed."""
    batch, count = samples_of(graph, columns)
    sizes = torch.bincount(batch, minlength=count).tolist()  # PyG batches nodes by sample
    with torch.autocast(columns.device.type, enabled=False):
        columns, given = columns.float(), given.float()
        query, key = columns[:, :KEY_SIZE] / math.sqrt(KEY_SIZE), columns[:, KEY_SIZE:-1]
        locality = F.softplus(columns[:, -1:])
        pieces = []
        for rows in torch.arange(len(columns), device=columns.device).split(sizes):
            boundary = rows[dirichlet[rows]]
            if len(boundary) == 0:
                pieces.append(given.new_zeros(len(rows), given.shape[1]))
                continue
            for chunk in rows.split(CHUNK_ROWS):
                distance = torch.cdist(graph.pos[chunk].float(), graph.pos[boundary].float())
                scores = query[chunk] @ key[boundary].T
                scores = scores - locality[chunk] * distance.clamp(min=1e-30).log()
                pieces.append(torch.softmax(scores, dim=1) @ given[boundary])
        return torch.cat(pieces)
