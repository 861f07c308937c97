"""How far to trust a prediction without a reference: the spread of an ensemble's members,
the residual of the bundled physics' discrete equations on the prediction and, for the
linear families, the error estimated from that residual (solvers.residuals), per node
(written beside the fields as FIELD_spread, FIELD_residual and FIELD_error_estimate) and
per step as one dimensionless figure (metrics.json: fields.FIELD.spread, .residual and
.estimate, the last an estimate of the relative L2 error)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from surrogate.model.schema import Schema


@dataclass
class Indicators:
    """spread: {target: (T, N, C)} the members' standard deviation (ensembles only);
    residual: {target: solvers.residuals.Residual} (bundled physics only); figures:
    {target: {"spread" | "residual" | "estimate": [per step]}}; seconds: what computing
    them took."""

    spread: dict[str, np.ndarray] = field(default_factory=dict)
    residual: dict = field(default_factory=dict)
    figures: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    seconds: float = 0.0

    def node_fields(self) -> dict[str, np.ndarray]:
        """The per-node values to write beside the prediction."""
        fields = {f"{name}_spread": values for name, values in self.spread.items()}
        for name, residual in self.residual.items():
            fields[f"{name}_residual"] = residual.values
            fields[f"{name}_error_estimate"] = residual.error
        return fields


def relative_spread(predicted: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """(T,) ||spread|| / ||prediction|| per step of (T, N, C) arrays."""
    norms = np.linalg.norm(predicted.reshape(len(predicted), -1), axis=1)
    deviations = np.linalg.norm(spread.reshape(len(spread), -1), axis=1)
    return deviations / np.maximum(norms, np.finfo(float).tiny)


def residual_figures(residual) -> dict[str, np.ndarray]:
    """{"residual": per state, "estimate": per state} of a solvers.residuals.Residual."""
    return {"residual": residual.relative, "estimate": residual.estimate}


def indicators(schema: Schema, setup, predicted: np.ndarray, spread: np.ndarray | None):
    """The Indicators of predicted states (T, N, C) as written (the initial state first when
    transient), with the ensemble's spread (T, N, C) or None; the figures are per predicted
    step (the initial state, exact, has none), like the errors in metrics.json."""
    started = time.perf_counter()
    found = Indicators()
    first = 0 if setup.initial is None else 1  # figures per predicted step, as the errors
    for name, part in schema.slices().items():
        if spread is not None:
            found.spread[name] = spread[..., part]
            relative = relative_spread(predicted[..., part], spread[..., part])
            found.figures.setdefault(name, {})["spread"] = relative[first:].tolist()
    if setup.residual is not None and not setup.stored:
        found.residual = setup.residual(predicted)
        for name, residual in found.residual.items():
            for kind, values in residual_figures(residual).items():
                found.figures.setdefault(name, {})[kind] = values[first:].tolist()
    found.seconds = time.perf_counter() - started
    return found
