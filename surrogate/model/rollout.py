"""Rollout: a surrogate stepped forward on one mesh graph, on a stored trajectory, or on a
new mesh for a problem set-up (surrogate.physics)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch_geometric.data import Batch

from surrogate.graph import MeshGraph, mesh_graph, node_type_features
from surrogate.model.device import network_precision
from surrogate.model.surrogate import Surrogate


@dataclass
class Forecast:
    """mean: (S, N, C) the predicted states (of an ensemble, the members' mean); spread:
    (S, N, C) the members' standard deviation, None for one model."""

    mean: torch.Tensor | np.ndarray
    spread: torch.Tensor | np.ndarray | None = None


@torch.no_grad()
def rollout(
    model: Surrogate,
    graph: MeshGraph,
    inputs: torch.Tensor,
    given: torch.Tensor,
    initial: torch.Tensor | None = None,
    steps: int = 1,
    precision: str = "32",
) -> torch.Tensor:
    """(steps, N, C) predicted targets after 1..steps steps (steps = 1 when steady).

    inputs: (N, Ci), or (S, N, Ci) per state, the last reused once S states are used up;
    given: (N, C), or (S, N, C) per predicted state, the values of pinned entries;
    initial: (N, C) state at step 0 (transient only); precision: the network's, "32" or
    "bf16" (autocast; the adapter's arithmetic and the states stay fp32).
    """
    return ensemble_rollout([model], graph, inputs, given, initial, steps, precision).mean


@torch.no_grad()
def ensemble_rollout(
    members: Sequence[Surrogate],
    graph: MeshGraph,
    inputs: torch.Tensor,
    given: torch.Tensor,
    initial: torch.Tensor | None = None,
    steps: int = 1,
    precision: str = "32",
) -> Forecast:
    """rollout() of members of one model (surrogate.model.ensemble): each step, every
    member predicts from the same state, the members' mean, which is the next state; the
    spread is their standard deviation (None for one member)."""
    adapter = members[0].adapter
    if adapter.transient and initial is None:
        raise ValueError("a transient rollout needs the initial state.")
    if not adapter.transient and steps != 1:
        raise ValueError(f"a steady model predicts once; got steps={steps}.")
    pick = lambda values, k: values if values.dim() == 2 else values[min(k, len(values) - 1)]  # noqa: E731
    pinned = [member.adapter.pinned(graph) for member in members]  # the same at every step
    state, means, spreads = initial, [], []
    for k in range(steps):
        predictions = []
        for member, member_pinned in zip(members, pinned, strict=True):
            step = member.adapter.step(graph, pick(inputs, k), pick(given, k), member_pinned)
            graph.x = member.adapter.features(step, state, graph.node_type)
            with network_precision(graph.x.device, precision):
                output = member(graph)
            predictions.append(member.adapter.predict(graph, output.float(), step, state))
        stacked = torch.stack(predictions)
        state = stacked[0] if len(members) == 1 else stacked.mean(0)
        means.append(state)
        spreads.append(stacked.std(0, correction=0))
    return Forecast(torch.stack(means), torch.stack(spreads) if len(members) > 1 else None)


def trajectory_rollout(model: Surrogate, graph: MeshGraph, steps: int, precision: str = "32"):
    """(predicted, truth), both (S, N, C): the states after 1..S steps of one stored
    trajectory item (surrogate.data.graphs, trajectories=True), S = steps capped at its
    length; steady models predict once (S = 1)."""
    forecast, truth = trajectory_forecast([model], graph, steps, precision)
    return forecast.mean, truth


def trajectory_forecast(
    members: Sequence[Surrogate], graph: MeshGraph, steps: int, precision: str = "32"
) -> tuple[Forecast, torch.Tensor]:
    """trajectory_rollout for the members of an ensemble: (their Forecast, truth)."""
    targets = graph.target_steps
    if members[0].adapter.transient:
        steps = min(steps, len(targets) - 1)
        forecast = ensemble_rollout(
            members, graph, graph.input_steps, targets[1:], targets[0], steps, precision
        )
        return forecast, targets[1 : steps + 1]
    steady = graph.input_steps[0], targets[0]
    return ensemble_rollout(members, graph, *steady, precision=precision), targets[:1]


def predict_on_mesh(
    model: Surrogate, mesh, setup, steps: int = 1, precision: str = "32"
) -> np.ndarray:
    """(steps, N, C) predictions of a surrogate on a new mesh, for a surrogate.physics
    Setup, on the model's device: the graph and hierarchy are built as in training."""
    return forecast_on_mesh([model], mesh, setup, steps, precision).mean


def forecast_on_mesh(
    members: Sequence[Surrogate], mesh, setup, steps: int = 1, precision: str = "32"
) -> Forecast:
    """predict_on_mesh for the members of an ensemble: their mean and spread, as numpy."""
    return forecast_many(members, [(mesh, setup)], steps, precision)[0]


def forecast_many(
    members: Sequence[Surrogate], cases: Sequence, steps: int = 1, precision: str = "32"
) -> list[Forecast]:
    """forecast_on_mesh for several (mesh, Setup) cases in one batch of graphs (each with
    its own hierarchy, as in training): one Forecast of (steps, N_i, C) arrays per case."""
    device = next(members[0].parameters()).device
    graphs = [_graph(members[0], mesh, setup) for mesh, setup in cases]
    batch = Batch.from_data_list(graphs).to(device)
    inputs = _side_by_side([setup.inputs for _, setup in cases], steps, device)
    given = _side_by_side([setup.given(steps) for _, setup in cases], steps, device)
    initial = None
    if cases[0][1].initial is not None:
        initial = _side_by_side([setup.initial for _, setup in cases], None, device)
    forecast = ensemble_rollout(members, batch, inputs, given, initial, steps, precision)
    as_array = lambda values: values.cpu().numpy().astype(np.float64)  # noqa: E731
    mean = as_array(forecast.mean)
    spread = None if forecast.spread is None else as_array(forecast.spread)
    bounds = batch.ptr.tolist()
    return [
        Forecast(mean[:, a:b], None if spread is None else spread[:, a:b])
        for a, b in itertools.pairwise(bounds)
    ]


def predict_many(
    model: Surrogate, cases: list, steps: int = 1, precision: str = "32", batch_size: int = 8
) -> list[np.ndarray]:
    """predict_on_mesh for many (mesh, Setup) cases, batch_size graphs at a time: one
    (steps, N_i, C) array per case, in order."""
    results = []
    for start in range(0, len(cases), batch_size):
        chunk = cases[start : start + batch_size]
        results += [forecast.mean for forecast in forecast_many([model], chunk, steps, precision)]
    return results


def _graph(model: Surrogate, mesh, setup) -> MeshGraph:
    """The mesh's graph, hierarchy and node types, built as in training."""
    graph = mesh_graph(mesh, **model.hierarchy)
    graph.node_type = node_type_features(mesh, setup.part_roles)
    return graph


def _side_by_side(arrays: list, steps: int | None, device) -> torch.Tensor:
    """The cases' (N_i, C) or (S_i, N_i, C) arrays joined along the nodes: (sum N_i, C)
    when steps is None, else (steps, sum N_i, C), a case's last state repeated past S_i
    as rollout() does."""
    joined = []
    for values in arrays:
        values = np.asarray(values, dtype=np.float32)
        if steps is not None and values.ndim == 3:
            values = values[np.minimum(np.arange(steps), len(values) - 1)]
        elif steps is not None:
            values = np.broadcast_to(values, (steps, *values.shape))
        joined.append(values)
    return torch.as_tensor(np.concatenate(joined, axis=-2)).to(device)
