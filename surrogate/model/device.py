"""Where and in what precision a surrogate predicts: `--device auto|cpu|cuda[:N]` and
`--precision 32|bf16` (bf16 autocast for the network only; normalisers, the adapter's
arithmetic and outputs stay in fp32)."""

from __future__ import annotations

import contextlib

import torch

from solvers.errors import InputError

PRECISIONS = ("32", "bf16")


def resolve_device(spec: str = "auto") -> torch.device:
    """auto: the first GPU when there is one, else the CPU; cpu; cuda or cuda:N."""
    spec = str(spec).strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    kind, _, index = spec.partition(":")
    if kind != "cuda" or (index and not index.isdigit()):
        raise InputError(f"--device is {spec!r}; expected auto, cpu, cuda or cuda:N.")
    if not torch.cuda.is_available():
        raise InputError(
            f"--device {spec}: this machine has no CUDA GPU (or torch was installed without "
            "CUDA); expected --device cpu or auto."
        )
    if index and int(index) >= torch.cuda.device_count():
        raise InputError(
            f"--device {spec}: this machine has {torch.cuda.device_count()} GPU(s), "
            f"numbered from 0; expected cuda:0 to cuda:{torch.cuda.device_count() - 1}."
        )
    return torch.device(spec)


def check_precision(precision: str) -> str:
    if str(precision) not in PRECISIONS:
        raise InputError(f"--precision is {precision!r}; expected one of {', '.join(PRECISIONS)}.")
    return str(precision)


def network_precision(device: torch.device, precision: str):
    """The context the network runs in: bf16 autocast, or nothing for fp32."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def describe(device: torch.device) -> str:
    """The device in words, for metrics and reports."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
