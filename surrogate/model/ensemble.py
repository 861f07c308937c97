"""Ensembles: several trained members of one model (same fields, network family and
hierarchy; typically the same config trained from different seeds). Their mean is the
prediction and their spread, the standard deviation across members, says where they
disagree: an estimate of the prediction's error that needs no reference
(surrogate.model.rollout.ensemble_rollout)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from solvers.errors import InputError
from surrogate.model.checkpoint import load_surrogate
from surrogate.model.surrogate import Surrogate


def load_members(paths: Sequence[str | Path], device: str | torch.device = "cpu"):
    """The surrogates of the checkpoints, refused in one sentence unless they are members
    of one model."""
    members = [load_surrogate(path, device) for path in paths]
    check_members(members, [str(path) for path in paths])
    return members


def check_members(members: Sequence[Surrogate], names: Sequence[str]) -> None:
    """InputError naming the first member that differs from the first in its fields and
    time step, its network family or its hierarchy settings."""

    def traits(model: Surrogate) -> dict:
        return {
            "fields and time step": model.schema.to_dict(),
            "network": model.settings["network"].get("name"),
            "hierarchy settings": model.hierarchy,
        }

    first = traits(members[0])
    for member, name in zip(members[1:], names[1:], strict=True):
        for what, theirs in traits(member).items():
            mine = first[what]
            if mine != theirs:
                raise InputError(
                    f"{name}: its {what} differ from {names[0]}'s ({_short(theirs)} against "
                    f"{_short(mine)}); expected members of one model."
                )


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
