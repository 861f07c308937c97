"""Rollout: a trained network and its adapter stepped forward on one mesh graph, and the
same on a new mesh for a problem set-up (surrogate.problems)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from surrogate.data.graphs import node_type_features
from surrogate.graph import MeshGraph, mesh_graph
from surrogate.training.adapter import FieldAdapter


@torch.no_grad()
def rollout(
    network: nn.Module,
    adapter: FieldAdapter,
    graph: MeshGraph,
    inputs: torch.Tensor,
    given: torch.Tensor,
    initial: torch.Tensor | None = None,
    steps: int = 1,
) -> torch.Tensor:
    """(steps, N, C) predicted targets after 1..steps steps (steps = 1 when steady).

    inputs: (N, Ci), or (S, N, Ci) per state, the last reused once S states are used up;
    given: (N, C), or (S, N, C) per predicted state, the values of pinned entries;
    initial: (N, C) state at step 0 (transient only).
    """
    if adapter.transient and initial is None:
        raise ValueError("a transient rollout needs the initial state.")
    if not adapter.transient and steps != 1:
        raise ValueError(f"a steady model predicts once; got steps={steps}.")
    pick = lambda values, k: values if values.dim() == 2 else values[min(k, len(values) - 1)]  # noqa: E731
    state, states = initial, []
    for k in range(steps):
        now, values = pick(inputs, k), pick(given, k)
        graph.x = adapter.features(graph, now, state, values)
        state = adapter.predict(graph, network(graph), now, state, values)
        states.append(state)
    return torch.stack(states)


def predict_on_mesh(module, mesh, setup, steps: int = 1) -> np.ndarray:
    """(steps, N, C) predictions of a trained SurrogateModule on a new mesh, for a
    surrogate.problems.Setup: the graph and hierarchy are built as in training."""
    graph = mesh_graph(mesh, **module.hparams.hierarchy)
    graph.node_type = node_type_features(mesh, setup.part_roles)
    as_tensor = lambda a: None if a is None else torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    predicted = rollout(
        module, module.adapter, graph, as_tensor(setup.inputs), as_tensor(setup.given(steps)),
        as_tensor(setup.initial), steps,
    )  # fmt: skip
    return predicted.numpy().astype(np.float64)
