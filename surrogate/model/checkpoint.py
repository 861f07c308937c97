"""Checkpoints: read safely (tensors and plain data only, weights_only=True), checked to be
one of ours, and brought to today's format by one explicit migration per older format, so
that a checkpoint of any released format predicts exactly as it did.

Formats (the `surrogate_format` entry):
- surrogate-checkpoint/1 (to 2026-12-02): the schema's fields as positional lists
  ([name, components] inputs, [name, components, pinned] targets); the module's weights at
  the top level (adapter.*, network.*); no magnitude normaliser when nothing is scaled by
  a pinned target.
- surrogate-checkpoint/2: the schema as Schema.to_dict(); weights under surrogate.*; the
  magnitude normaliser always present (empty when unused).
"""

from __future__ import annotations

import inspect
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from solvers.errors import InputError
from surrogate.model.device import resolve_device
from surrogate.model.surrogate import Surrogate

FORMAT = "surrogate-checkpoint/2"
PREFIX = "surrogate."  # where the LightningModule keeps the Surrogate's weights
# The hyperparameters that build the Surrogate; the others (lr, pushforward, ...) are
# training's.
MODEL_SETTINGS = tuple(inspect.signature(Surrogate).parameters)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's contents in today's format; InputError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        what = "is not a regular file" if path.exists() else "no such checkpoint file"
        raise InputError(f"{path}: {what}; expected a checkpoint written by `surrogate train`.")
    if not zipfile.is_zipfile(path):
        raise InputError(
            f"{path}: not a readable surrogate checkpoint (empty, truncated or not the zip "
            "archive torch.save writes); expected a checkpoint written by `surrogate train`."
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as error:
        raise InputError(
            f"{path}: not a readable surrogate checkpoint ({_reason(error)}); expected a "
            "checkpoint written by `surrogate train`."
        ) from None
    if not isinstance(checkpoint, dict) or checkpoint.get("surrogate_format") is None:
        raise InputError(
            f"{path}: not a surrogate checkpoint (no format entry); expected {FORMAT} from "
            "`surrogate train`."
        )
    missing = {"hyper_parameters", "state_dict"} - set(checkpoint)
    if missing or not all(
        isinstance(checkpoint[k], dict) for k in ("hyper_parameters", "state_dict")
    ):
        raise InputError(
            f"{path}: lacks {', '.join(sorted(missing)) or 'readable settings'}; expected a "
            "complete checkpoint "
            "from `surrogate train`."
        )
    try:
        return migrate(checkpoint)
    except InputError as error:
        raise InputError(f"{path}: {error}") from None


def migrate(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint brought to FORMAT, in place (also what a resumed run loads)."""
    while (found := checkpoint.get("surrogate_format")) != FORMAT:
        if found not in MIGRATIONS:
            raise InputError(
                f"not a surrogate checkpoint (format {found!r}); expected {FORMAT} from "
                "`surrogate train`."
            )
        MIGRATIONS[found](checkpoint)
    return checkpoint


def model_settings(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The Surrogate's constructor arguments stored in a (migrated) checkpoint."""
    settings = checkpoint["hyper_parameters"]
    return {key: settings[key] for key in MODEL_SETTINGS if key in settings}


def load_surrogate(path: str | Path, device: str | torch.device = "cpu") -> Surrogate:
    """The trained surrogate of a checkpoint, in evaluation mode on `device` (a
    torch.device, or auto, cpu, cuda, cuda:N)."""
    return surrogate_of(read_checkpoint(path), path, device)


def surrogate_of(
    checkpoint: dict[str, Any], path: str | Path, device: str | torch.device = "cpu"
) -> Surrogate:
    """The trained surrogate of a checkpoint read_checkpoint read from path."""
    try:
        model = Surrogate(**model_settings(checkpoint))
    except TypeError as error:
        raise InputError(
            f"{path}: its settings do not describe a surrogate ({error}); expected a "
            "checkpoint written by `surrogate train`."
        ) from None
    state = checkpoint["state_dict"]
    weights = {k[len(PREFIX) :]: v for k, v in state.items() if k.startswith(PREFIX)}
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        raise InputError(
            f"{path}: the weights do not fit the network the checkpoint describes "
            f"({str(error).splitlines()[0]})."
        ) from None
    if not isinstance(device, torch.device):
        device = resolve_device(device)
    return model.to(device).eval()


def _from_format_1(checkpoint: dict[str, Any]) -> None:
    """Format 1 -> 2: named schema fields, weights under surrogate.*, an empty magnitude
    normaliser where there was none."""
    schema = checkpoint["hyper_parameters"]["schema"]
    schema["inputs"] = [
        {"name": name, "components": components, "role": "input", "pinned": False}
        for name, components in schema["inputs"]
    ]
    schema["targets"] = [
        {"name": name, "components": components, "role": "target", "pinned": pinned}
        for name, components, pinned in schema["targets"]
    ]
    state = {PREFIX + key: value for key, value in checkpoint["state_dict"].items()}
    norm = PREFIX + "adapter.magnitude_norm."
    if norm + "count" not in state:
        state |= {
            norm + "count": torch.zeros((), dtype=torch.float64),
            norm + "total": torch.zeros(0, dtype=torch.float64),
            norm + "total_sq": torch.zeros(0, dtype=torch.float64),
            norm + "accumulations": torch.zeros((), dtype=torch.long),
        }
    checkpoint["state_dict"] = state
    checkpoint["surrogate_format"] = "surrogate-checkpoint/2"


MIGRATIONS = {"surrogate-checkpoint/1": _from_format_1}


def _reason(error: Exception) -> str:
    """Why torch.load failed, in a few words (torch's own messages run to paragraphs)."""
    if isinstance(error, pickle.UnpicklingError):
        return "it holds Python objects other than weights, which are never unpickled"
    text = str(error).strip()
    return text.splitlines()[0].split(". ")[0][:120] if text else type(error).__name__
