"""Calibration of the trust indicators: over every (sample, step) pair of an evaluation,
how well each indicator (the ensemble's spread, the physics residual) ranks the true
relative L2 error: Spearman's rank correlation, and a picture of one against the other."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from solvers.atomic import atomic_path

# {field: {indicator: [(indicator value, true error), ...]}}
Pairs = dict[str, dict[str, list[tuple[float, float]]]]


def rank_correlations(pairs: Pairs) -> dict[str, dict[str, float | None]]:
    """Spearman's rho per field and indicator (None with fewer than 3 pairs or a constant
    side, where a rank correlation says nothing)."""
    result: dict[str, dict[str, float | None]] = {}
    for name, by_indicator in pairs.items():
        for indicator, points in by_indicator.items():
            values = np.asarray(points, dtype=float).reshape(-1, 2)
            usable = len(values) >= 3 and np.ptp(values[:, 0]) > 0 and np.ptp(values[:, 1]) > 0
            rho = float(spearmanr(values[:, 0], values[:, 1]).statistic) if usable else None
            result.setdefault(name, {})[indicator] = rho
    return result


def calibration_picture(pairs: Pairs, path: str | Path) -> None:
    """A PNG: a row per field, a panel per indicator, the indicator against the true error
    (log axes); the estimate, of that very error, beside the line where they are equal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [[(n, i, p) for i, p in by.items() if p] for n, by in pairs.items()]
    rows = [row for row in rows if row]
    if not rows:
        return
    rho = rank_correlations(pairs)
    width = max(len(row) for row in rows)
    figure, axes = plt.subplots(
        len(rows), width, figsize=(4.2 * width, 3.8 * len(rows)), squeeze=False
    )
    for axis in axes.ravel():
        axis.set_visible(False)
    panels = [(axes[r, c], *panel) for r, row in enumerate(rows) for c, panel in enumerate(row)]
    for axis, name, indicator, points in panels:
        axis.set_visible(True)
        values = np.maximum(np.asarray(points, dtype=float), 1e-12)
        axis.loglog(values[:, 0], values[:, 1], ".", alpha=0.5)
        if indicator == "estimate":
            ends = [values.min(), values.max()]
            axis.loglog(ends, ends, "k--", lw=0.8, label="estimate = error")
            axis.legend(loc="upper left", fontsize=8)
        axis.tick_params(which="minor", labelsize=7, labelrotation=30)  # else they overlap
        correlation = rho[name][indicator]
        shown = "n/a" if correlation is None else f"{correlation:.2f}"
        axis.set(xlabel=f"{name} {indicator}", ylabel="true relative L2 error",
                 title=f"Spearman {shown}, {len(values)} pairs")  # fmt: skip
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)
