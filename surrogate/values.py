"""The numbers users give, checked in one place: each kind of value is declared once with
its type and range, and every command-line flag, solve config entry and rollout value of
that kind is checked against the declaration before any work starts, in one sentence.

Limits that keep work bounded (counts, steps, memory) are stated here too.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import numpy as np

from solvers.errors import ProblemError
from solvers.limits import memory_budget


@dataclass(frozen=True)
class Number:
    """A finite int or float in [low, high] (open at low when low_open, at high when
    high_open)."""

    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    meaning: str = "a number"

    def check(self, value, what: str) -> int | float:
        """value as self.kind; ProblemError naming `what` and the range otherwise."""
        number = _convert(value, self.kind)
        if number is None or not self._inside(number):
            raise ProblemError(f"{what} is {value!r}; expected {self.describe()}.")
        return number

    def describe(self) -> str:
        kind = "a whole number" if self.kind is int else "a finite number"
        show = (lambda v: f"{int(v):,}") if self.kind is int else (lambda v: f"{v:g}")
        closed = not (self.low_open or self.high_open)
        if self.low is not None and self.high is not None and closed:
            return f"{self.meaning}: {kind} from {show(self.low)} to {show(self.high)}"
        bounds = []
        if self.low is not None:
            bounds.append(f"{'above' if self.low_open else 'at least'} {show(self.low)}")
        if self.high is not None:
            bounds.append(f"{'below' if self.high_open else 'at most'} {show(self.high)}")
        return f"{self.meaning}: {kind}" + (f" {' and '.join(bounds)}" if bounds else "")

    def flag(self, name: str):
        """An argparse type for the flag `name`."""

        def parse(text: str):
            try:
                return self.check(text, name)
            except ProblemError as error:
                raise argparse.ArgumentTypeError(str(error).removeprefix(f"{name} is ")) from None

        parse.__name__ = self.meaning  # argparse names it in "invalid ... value"
        return parse

    def _inside(self, number) -> bool:
        if self.low is not None and (number <= self.low if self.low_open else number < self.low):
            return False
        return self.high is None or (number < self.high if self.high_open else number <= self.high)


def _convert(value, kind: type):
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if not isinstance(value, int | float) else value
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    if kind is int:
        return int(number) if float(number).is_integer() else None
    return float(number)


SEED = Number(int, 0, 2**32 - 1, meaning="a seed")
SAMPLES = Number(int, 1, 1_000_000, meaning="a sample count")
WORKERS = Number(int, 1, 256, meaning="a number of processes")
STEPS = Number(int, 1, 10_000_000, meaning="a number of steps")
CELL_SIZE = Number(float, 0, 10.0, low_open=True, meaning="a cell size")
TIME_STEP = Number(float, 0, 1e6, low_open=True, meaning="a time step")
THETA = Number(float, 0, 1, meaning="a time-stepping weight")
TOLERANCE = Number(float, 0, 1, low_open=True, meaning="a relative tolerance")
POSITIVE = Number(float, 0, low_open=True, meaning="a positive quantity")
NON_NEGATIVE = Number(float, 0, meaning="a quantity")
NODE_BUDGET = Number(int, 1, 10**9, meaning="a number of nodes")
MINUTES = Number(float, 0, 10_000, low_open=True, meaning="a time in minutes")


# Poisson's ratio strictly inside (-1, 0.5), where an isotropic material is stable.
POISSON_RATIO = Number(float, -1, 0.5, low_open=True, high_open=True, meaning="Poisson's ratio")


def check_memory(entries: float, what: str, bytes_per_entry: int = 8) -> None:
    """Refuses, before allocating, an array of `entries` numbers larger than the budget."""
    needed, budget = entries * bytes_per_entry, memory_budget()
    if needed > budget:
        raise ProblemError(
            f"{what} would hold {needed / 2**30:.1f} GiB of values; expected at most "
            f"{budget / 2**30:.1f} GiB (a quarter of this machine's memory): fewer steps or "
            "a coarser mesh."
        )


def check_finite(states, what: str, stepped: bool = False) -> None:
    """Refuses NaN or infinite values in an output before it is written; `stepped` arrays
    are (T, ...) and the first bad step is named."""
    finite = np.isfinite(states)
    if finite.all():
        return
    where = ""
    if stepped:
        step = int(np.argmin(finite.reshape(len(finite), -1).all(axis=1)))
        where = f" from step {step} on"
    raise ProblemError(
        f"{what} has NaN or infinite values{where}; nothing was written (check the inputs' "
        "magnitudes, or the model's range of training data)."
    )
