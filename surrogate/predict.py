"""Rollout to a folder, the library function `surrogate rollout`, the demo and the
notebooks call: a surrogate on a mesh for a problem set-up, the reference beside it when
asked, ParaView files, pictures and metrics.json written atomically."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from solvers import Mesh
from solvers.atomic import atomic_folder, refuse_inputs_inside
from solvers.cells import split_note
from solvers.errors import InputError, note
from surrogate.guard import Guard, guarded
from surrogate.indicators import Indicators, indicators
from surrogate.metrics import relative_l2, rmse
from surrogate.model.device import check_precision, describe
from surrogate.model.rollout import Forecast, forecast_many, forecast_on_mesh
from surrogate.model.surrogate import Surrogate
from surrogate.physics import Setup
from surrogate.values import check_finite, check_memory

UNGUARDED = Guard()


@dataclass
class RolloutResult:
    """fields: {name: (T, N, C)} predicted states (the initial state first when transient);
    reference: the same from the reference (None without one); metrics: what metrics.json
    holds (timings in s, times, per field and step the relative L2 error and RMSE against
    the reference); folder: where the files are; indicators: the spread (ensembles) and
    residual (bundled physics) beside the prediction."""

    mesh: Mesh
    times: np.ndarray
    fields: dict[str, np.ndarray]
    reference: dict[str, np.ndarray] | None
    metrics: dict
    folder: Path
    indicators: Indicators | None = None


def rollout_to_folder(
    model: Surrogate | Sequence[Surrogate],
    mesh: Mesh,
    setup: Setup,
    steps: int,
    out: str | Path,
    reference: bool = False,
    times: np.ndarray | None = None,
    pictures: bool = True,
    overwrite: bool = False,
    inputs: tuple = (),
    precision: str = "32",
    guard: Guard = UNGUARDED,
    forecast: tuple[Forecast, float, int] | None = None,
) -> RolloutResult:
    """Predicts `steps` steps (1 when steady) on mesh, runs setup.reference beside it when
    `reference` (timed as the solver unless the set-up replays a stored run), and writes
    OUT/rollout.pvd (+ one .vtu per step, with FIELD, FIELD_reference and FIELD_error),
    PNG/GIF pictures and metrics.json; `times` default to steps of the model's dt; OUT is
    not replaced when one of `inputs` (the files the rollout reads) lies inside it. The
    surrogate runs on its device with the network in `precision` ("32" or "bf16");
    metrics.json records both and the time per step. `model` may be the members of an
    ensemble (surrogate.model.ensemble): their mean is written, with their spread; the
    bundled physics' residual is written for every prediction (surrogate.indicators);
    `guard` stops a transient rollout, or hands it to the solver, where they pass a limit;
    `forecast`: the members' Forecast, its share of the seconds its batch took and the
    batch's size in meshes, when already predicted (rollouts_to_folders batches meshes)."""
    members = [model] if isinstance(model, Surrogate) else list(model)
    schema = members[0].schema
    guard.check(schema.transient, len(members), setup)
    refuse_inputs_inside(out, inputs)  # before the work, not only before replacing OUT
    # predicted, reference and error states, each (steps + 1, N, C)
    check_memory(3 * (steps + 1) * mesh.num_nodes * schema.target_size, "the rollout")
    if times is None:
        times = schema.dt * np.arange(steps + 1) if schema.transient else np.zeros(1)
    precision = check_precision(precision)
    if forecast is None:
        started = time.perf_counter()
        forecast = forecast_on_mesh(members, mesh, setup, steps, precision)
        forecast = forecast, time.perf_counter() - started, 1  # on the host: device done
    predicted, spread, seconds = forecast[0].mean, forecast[0].spread, forecast[1]
    timings = {"surrogate_s": seconds, "surrogate_s_per_step": seconds / steps}
    if forecast[2] > 1:
        timings["batch_meshes"] = forecast[2]  # surrogate_s: this mesh's share of the batch
    solved = None
    if reference:
        if mesh.shapes and not setup.stored:
            note(split_note(mesh))
        started = time.perf_counter()
        solved = setup.reference(steps)
        if not setup.stored:
            timings["solver_s"] = time.perf_counter() - started
    if setup.initial is not None:  # the initial state first
        predicted = np.concatenate([setup.initial[None], predicted])
        solved = None if solved is None else np.concatenate([setup.initial[None], solved])
        spread = None if spread is None else np.concatenate([np.zeros_like(spread[:1]), spread])
    check_finite(predicted, "the surrogate's prediction", stepped=True)
    found = indicators(schema, setup, predicted, spread)
    predicted, spread, solved, stop = guarded(
        guard, setup, predicted, spread, solved, found.figures, timings
    )
    if stop is not None:  # the figures of what is kept
        found = indicators(schema, setup, predicted, spread)
    if found.figures:
        timings["indicators_s"] = found.seconds
    if solved is not None:
        check_finite(solved, "the reference", stepped=True)
    fields = {name: predicted[..., part] for name, part in schema.slices().items()}
    solution = None if solved is None else {n: solved[..., p] for n, p in schema.slices().items()}
    times = np.asarray(times)[: len(predicted)]
    device = describe(next(members[0].parameters()).device)
    metrics = {
        "timings": timings,
        "device": device,
        "precision": precision,
        "members": len(members),
        **({} if stop is None else {"guard": stop}),
        "times": times.tolist(),
        "fields": {name: dict(figures) for name, figures in found.figures.items()},
    }
    if solution is not None:
        first = 1 if schema.transient else 0  # the initial state is exact
        for name, values in fields.items():
            pairs = list(zip(values[first:], solution[name][first:], strict=True))
            metrics["fields"].setdefault(name, {}).update(
                relative_l2=[relative_l2(p, r) for p, r in pairs],
                rmse=[rmse(p, r) for p, r in pairs],
            )
    extra = found.node_fields()
    if stop is not None and "source" in stop:  # 0: the surrogate's step, 1: the solver's
        source = np.array([float(s == "solver") for s in stop["source"]])
        extra["source"] = np.broadcast_to(source[:, None], (len(source), mesh.num_nodes))
    with atomic_folder(out, overwrite=overwrite, inputs=inputs) as folder:
        _write(folder, mesh, times, fields, solution, metrics, pictures, extra)
    return RolloutResult(mesh, times, fields, solution, metrics, Path(out), found)


def rollouts_to_folders(
    model: Surrogate | Sequence[Surrogate],
    cases: Sequence[tuple[str, Mesh, Setup]],
    steps: int,
    out: str | Path,
    batch_size: int = 8,
    overwrite: bool = False,
    inputs: tuple = (),
    precision: str = "32",
    **options,
) -> list[RolloutResult]:
    """rollout_to_folder for many (name, mesh, set-up) cases, one folder OUT/NAME each
    (OUT written atomically as a whole): the surrogate predicts batch_size meshes at a time,
    their graphs batched, each with its own hierarchy; each case's metrics record its
    share of its batch's time and the batch's size. `options` as rollout_to_folder's."""
    members = [model] if isinstance(model, Surrogate) else list(model)
    names = [name for name, _, _ in cases]
    plain = all(name and Path(name).name == name and name not in (".", "..") for name in names)
    if len(set(names)) != len(names) or not plain:
        raise InputError(
            f"the rollouts' folder names {names} are not distinct plain names; expected one "
            "folder name (no path) per mesh."
        )
    precision = check_precision(precision)
    refuse_inputs_inside(out, inputs)
    for _, _, setup in cases:  # refusals before any work
        options.get("guard", UNGUARDED).check(members[0].schema.transient, len(members), setup)
    results = []
    with atomic_folder(out, overwrite=overwrite, inputs=inputs) as folder:
        for start in range(0, len(cases), batch_size):
            chunk = cases[start : start + batch_size]
            nodes = sum(mesh.num_nodes for _, mesh, _ in chunk)  # before the work
            check_memory(3 * (steps + 1) * nodes * members[0].schema.target_size, "the rollouts")
            started = time.perf_counter()
            forecasts = forecast_many(members, [(m, s) for _, m, s in chunk], steps, precision)
            share = (time.perf_counter() - started) / len(chunk)
            for (name, mesh, setup), forecast in zip(chunk, forecasts, strict=True):
                results.append(
                    rollout_to_folder(
                        members,
                        mesh,
                        setup,
                        steps,
                        folder / name,
                        precision=precision,
                        forecast=(forecast, share, len(chunk)),
                        **options,
                    )
                )
    return [replace(r, folder=Path(out) / name) for r, name in zip(results, names, strict=True)]


def _write(folder: Path, mesh, times, fields, solution, metrics, pictures, extra) -> None:
    from surrogate.export import can_render, magnitude, render, write_series

    pictures = pictures and can_render()
    written = {}
    for name, predicted in fields.items():
        written[name] = predicted
        reference = None if solution is None else solution[name]
        if reference is not None:
            written[f"{name}_reference"] = reference
            written[f"{name}_error"] = predicted - reference
        if pictures:
            render(
                folder,
                mesh,
                times,
                name,
                magnitude(predicted),
                None if reference is None else magnitude(reference),
            )
    write_series(folder / "rollout.pvd", mesh, times, written | extra)
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=1))
