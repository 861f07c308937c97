"""Accuracy of a trained surrogate on a dataset's held-out geometries: what `surrogate
evaluate` prints and writes, and what benchmarks/training_accuracy.py reports."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from solvers.errors import InputError
from surrogate import physics
from surrogate.calibration import Pairs, rank_correlations
from surrogate.data.graphs import MeshDataset, split_by_geometry
from surrogate.data.manifest import read_manifest
from surrogate.data.sample import read_sample
from surrogate.indicators import relative_spread, residual_figures
from surrogate.metrics import field_errors, rmse
from surrogate.model.checkpoint import read_checkpoint
from surrogate.model.device import check_precision, describe
from surrogate.model.ensemble import load_members
from surrogate.model.rollout import trajectory_forecast
from surrogate.model.surrogate import Surrogate

SPLITS = ("test", "validation", "train", "all")
DEFAULT_SPLIT = {"split": (0.8, 0.1, 0.1), "split_seed": 0}  # MeshDataModule's defaults


@dataclass
class Evaluation:
    """relative_l2: {field: {h: {"mean", "median", "worst"}}} over the samples of the
    relative L2 error after h steps; rmse: {field: {h: value}}, MeshGraphNets' rollout RMSE
    after h steps (the root of the squared error averaged over steps 1..h, nodes,
    components and samples); compute: what the model's training and this evaluation took;
    calibration: {field: {indicator: Spearman's rho}} of the trust indicators (spread for
    ensembles; residual, and estimate for the linear families, of the bundled physics)
    against the true error over every (sample, step) pair, which `pairs` holds.
    A horizon past a trajectory's end is capped at its last step; a steady model predicts
    once, so its only horizon is 1."""

    samples: list[int]
    steps: list[int]
    relative_l2: dict[str, dict[int, dict[str, float]]]
    rmse: dict[str, dict[int, float]]
    compute: dict[str, Any]
    calibration: dict[str, dict[str, float | None]] = field(default_factory=dict)
    pairs: Pairs = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def calibration_lines(self) -> list[str]:
        return [
            f"{name} {indicator}: Spearman rank correlation with the true error "
            + ("n/a" if rho is None else f"{rho:.2f}")
            + f" over {len(self.pairs[name][indicator])} (sample, step) pairs"
            for name, by_indicator in self.calibration.items()
            for indicator, rho in by_indicator.items()
        ]

    def table(self) -> str:
        """A Markdown table, one row per field and horizon."""
        lines = [
            "| field | steps | relative L2 mean | median | worst | RMSE |",
            "|---|---|---|---|---|---|",
        ]
        for name, by_step in self.relative_l2.items():
            for h, errors in by_step.items():
                lines.append(
                    f"| {name} | {h} | {errors['mean']:.2%} | {errors['median']:.2%} | "
                    f"{errors['worst']:.2%} | {self.rmse[name][h]:.3e} |"
                )
        return "\n".join(lines)


@torch.no_grad()
def evaluate(
    model: Surrogate | Sequence[Surrogate],
    folder: str | Path,
    indices: list[int],
    steps: tuple[int, ...] = (50,),
    precision: str = "32",
) -> Evaluation:
    """Rolls each sample of the folder out for max(steps) steps (capped at its length) on
    the model's device, the network in `precision`, and measures it after each of
    `steps`; `model` may be the members of an ensemble. The trust indicators of every
    predicted step are set against its true error (Evaluation.calibration)."""
    members = [model] if isinstance(model, Surrogate) else list(model)
    schema = members[0].schema
    precision = check_precision(precision)
    device = next(members[0].parameters()).device
    if not indices:
        raise InputError(f"{folder}: no sample to evaluate in the chosen split.")
    if not steps or min(steps) < 1:
        raise InputError(f"--steps is {list(steps)}; expected whole numbers of at least 1.")
    if not schema.transient:
        steps = (1,)  # a steady model predicts once
    started = time.perf_counter()
    dataset = MeshDataset(folder, indices, members[0].hierarchy, trajectories=True)
    names = schema.slices()
    errors = {name: {h: [] for h in steps} for name in names}
    squared = {name: {h: [] for h in steps} for name in names}
    pairs: Pairs = {}
    for k, graph in enumerate(dataset):
        forecast, truth = trajectory_forecast(members, graph.to(device), max(steps), precision)
        predicted, truth = forecast.mean.cpu(), truth.cpu()
        for h in steps:
            at = min(h, len(predicted)) - 1
            for name, value in field_errors(predicted[at], truth[at], schema).items():
                errors[name][h].append(value)
            for name, part in names.items():  # mean squared error per sample, averaged below
                squared[name][h].append(rmse(predicted[:h, :, part], truth[:h, :, part]) ** 2)
        spread = None if forecast.spread is None else forecast.spread.cpu().numpy()
        _pair_up(pairs, schema, dataset.files[k], graph, predicted.numpy(), spread, truth)
    return Evaluation(
        samples=list(indices),
        steps=list(steps),
        relative_l2={n: {h: _summary(v) for h, v in by_h.items()} for n, by_h in errors.items()},
        rmse={
            n: {h: float(np.sqrt(np.mean(v))) for h, v in by_h.items()}
            for n, by_h in squared.items()
        },
        compute={
            "evaluation_s": time.perf_counter() - started,
            "device": describe(device),
            "precision": precision,
            "members": len(members),
        },
        calibration=rank_correlations(pairs),
        pairs=pairs,
    )


def _pair_up(pairs: Pairs, schema, path, graph, predicted, spread, truth) -> None:
    """Adds (indicator, true error) for every predicted step of one sample: the spread
    (ensembles), the residual of the bundled physics and its error estimate (read from the
    sample's mesh, inputs and part roles)."""
    steps = [predicted[k] for k in range(len(predicted))]
    true = [field_errors(torch.as_tensor(p), t, schema) for p, t in zip(steps, truth, strict=True)]
    found: dict[str, dict[str, np.ndarray]] = {}
    if spread is not None:
        for name, part in schema.slices().items():
            spreads = relative_spread(predicted[..., part], spread[..., part])
            found.setdefault(name, {})["spread"] = spreads
    chosen = physics.FAMILIES.get(schema.family)
    if chosen is not None and chosen.residual is not None:
        sample = read_sample(path)
        inputs = graph.input_steps.cpu().numpy()
        check = chosen.residual(schema, sample.mesh, inputs, sample.meta.get("part_roles", {}))
        states = predicted
        if schema.transient:
            states = np.concatenate([graph.target_steps[:1].cpu().numpy(), predicted])
        for name, residual in check(states).items():
            for kind, values in residual_figures(residual).items():
                found.setdefault(name, {})[kind] = values[1:] if schema.transient else values
    for name, by_indicator in found.items():
        for indicator, values in by_indicator.items():
            points = pairs.setdefault(name, {}).setdefault(indicator, [])
            points += [(float(v), true[k][name]) for k, v in enumerate(values)]


def evaluate_checkpoint(
    checkpoint: str | Path | Sequence[str | Path],
    folder: str | Path,
    split: str = "test",
    steps: tuple[int, ...] = (50,),
    device: str = "auto",
    precision: str = "32",
) -> Evaluation:
    """evaluate() of a checkpoint (or an ensemble's) on the geometries of a dataset folder
    that its (first member's) training run held out for `split` (test, validation, train,
    or all samples), on `device` (auto, cpu, cuda, cuda:N), with the training compute the
    checkpoint records."""
    if split not in SPLITS:
        raise InputError(f"--split is {split!r}; expected one of {', '.join(SPLITS)}.")
    checkpoints = [checkpoint] if isinstance(checkpoint, str | Path) else list(checkpoint)
    stored = read_checkpoint(checkpoints[0])
    model = load_members(checkpoints, device)
    data = {**DEFAULT_SPLIT, **stored.get("datamodule_hyper_parameters", {})}
    if split == "all":
        indices = sorted(entry["index"] for entry in read_manifest(folder)["samples"])
    else:
        indices = split_by_geometry(folder, tuple(data["split"]), data["split_seed"])[split]
    evaluation = evaluate(model, folder, indices, steps, precision)
    timer = stored.get("callbacks", {}).get("Timer", {}).get("time_elapsed", {})
    evaluation.compute |= {
        "training_steps": stored.get("global_step"),
        "training_s": timer.get("train"),  # recorded when trainer.max_time was set
        "split": split,
        "split_fractions": list(data["split"]),
        "split_seed": data["split_seed"],
    }
    return evaluation


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "mean": float(np.mean(values)),
        "median": float(np.median(values)),
        "worst": float(np.max(values)),
    }
