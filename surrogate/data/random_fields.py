"""Smooth random fields for coefficients, sources and initial states.

A Gaussian random field with squared-exponential covariance exp(-|x - y|^2 / (2 l^2)) is
approximated by random Fourier features: g(x) = sqrt(2 / K) sum_k cos(w_k . x + phi_k) with
w_k ~ N(0, I / l^2) and phi_k ~ U(0, 2 pi). It is defined everywhere (mesh-independent,
so a sample's field does not depend on how its mesh is numbered) and costs O(N K).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

MODES = 64


def gaussian_field(
    rng: np.random.Generator, dim: int, length: float, modes: int = MODES
) -> Callable[[np.ndarray], np.ndarray]:
    """A zero-mean, unit-variance smooth field x (P, dim) -> (P,) with correlation length."""
    frequencies = rng.normal(scale=1.0 / length, size=(modes, dim))
    phases = rng.uniform(0.0, 2 * np.pi, size=modes)

    def field(x: np.ndarray) -> np.ndarray:
        return np.sqrt(2.0 / modes) * np.cos(x[:, :dim] @ frequencies.T + phases).sum(axis=1)

    return field


def log_normal_field(
    rng: np.random.Generator, dim: int, mean: float, log_std: float, length: float
) -> Callable[[np.ndarray], np.ndarray]:
    """mean * exp(log_std * g(x) - log_std^2 / 2): positive, with expectation mean."""
    g = gaussian_field(rng, dim, length)
    return lambda x: mean * np.exp(log_std * g(x) - 0.5 * log_std**2)
