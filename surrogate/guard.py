"""A guard on a transient rollout: stop at the first step whose spread, residual or
estimated error (surrogate.indicators, relative per step) passes its limit, or hand over
to the bundled solver there. The rollout is causal, so the steps before the crossing are
exactly those of an unguarded rollout."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from solvers.errors import ProblemError, note


@dataclass(frozen=True)
class Guard:
    """max_spread, max_residual, max_estimate: limits (None: unchecked); fallback: continue
    with the solver from the last trusted state instead of stopping."""

    max_spread: float | None = None
    max_residual: float | None = None
    max_estimate: float | None = None
    fallback: bool = False

    @property
    def limits(self) -> dict[str, float]:
        limits = {
            "spread": self.max_spread,
            "residual": self.max_residual,
            "estimate": self.max_estimate,
        }
        return {kind: limit for kind, limit in limits.items() if limit is not None}

    def check(self, transient: bool, members: int, setup) -> None:
        """One sentence, before any work, when a limit cannot be watched."""
        if not self.limits:
            if self.fallback:
                raise ProblemError(
                    "--fallback solver needs --max-spread, --max-residual or --max-estimate."
                )
            return
        if not transient:
            raise ProblemError(
                "--max-spread, --max-residual and --max-estimate guard transient rollouts only."
            )
        if "spread" in self.limits and members < 2:
            raise ProblemError("--max-spread needs an ensemble: give --checkpoint twice or more.")
        for kind in {"residual", "estimate"} & set(self.limits):
            if setup.residual is None or setup.stored:
                raise ProblemError(
                    f"--max-{kind} needs the bundled physics on a new mesh; a replayed series "
                    f"or an ingested model has no {kind} (use --max-spread)."
                )
        if self.fallback and setup.solve_from is None:
            raise ProblemError("--fallback solver needs a model of the bundled physics.")

    def crossing(self, figures: dict) -> tuple[int, str] | None:
        """(the first predicted step, 1-based, whose figure passes its limit, why)."""
        first = None
        for name, by_kind in figures.items():
            for kind, limit in self.limits.items():
                over = np.flatnonzero(np.asarray(by_kind.get(kind, [])) > limit)
                if len(over) and (first is None or over[0] + 1 < first[0]):
                    value = by_kind[kind][over[0]]
                    first = (int(over[0]) + 1, f"the {name} {kind} {value:.3g} passes {limit:g}")
        return first


def guarded(guard: Guard, setup, predicted, spread, solved, figures: dict, timings: dict):
    """(predicted, spread, solved, record) after the guard: cut after the last trusted
    step, or continued from it by the solver (record["source"] says which step came from
    which); states (T, N, C) with the initial state first; record None when nothing
    crossed."""
    found = guard.crossing(figures) if guard.limits else None
    if found is None:
        return predicted, spread, solved, None
    step, why = found
    record = {"step": step, "reason": why, "fallback": guard.fallback}
    if not guard.fallback:
        note(f"step {step}: {why}; the rollout stops after step {step - 1}.")
        cut = lambda states: None if states is None else states[:step]  # noqa: E731
        return cut(predicted), cut(spread), cut(solved), record
    started = time.perf_counter()
    remaining = len(predicted) - step
    tail = setup.solve_from(predicted[step - 1], step - 1, remaining)
    timings["fallback_solver_s"] = time.perf_counter() - started
    note(f"step {step}: {why}; the bundled solver continues from step {step - 1}.")
    record["source"] = ["surrogate"] * step + ["solver"] * remaining
    predicted = np.concatenate([predicted[:step], tail])
    if spread is not None:
        spread = np.concatenate([spread[:step], np.zeros_like(tail)])
    return predicted, spread, solved, record
