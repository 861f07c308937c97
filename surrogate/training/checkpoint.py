"""Loading a trained surrogate from its checkpoint, safely: tensors and plain data only
(weights_only=True), checked to be one of ours before anything is built from it."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from solvers.errors import InputError
from surrogate.training.module import CHECKPOINT_FORMAT, SurrogateModule


def load_surrogate(path: str | Path) -> SurrogateModule:
    """The trained module of a checkpoint, in evaluation mode on the CPU."""
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(f"{path}: no such checkpoint file.") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(
            f"{path}: not a readable surrogate checkpoint ({reason[:200]}); expected a "
            "checkpoint written by `surrogate train`."
        ) from None
    if not isinstance(checkpoint, dict) or checkpoint.get("surrogate_format") != CHECKPOINT_FORMAT:
        raise InputError(
            f"{path}: not a surrogate checkpoint (format "
            f"{checkpoint.get('surrogate_format') if isinstance(checkpoint, dict) else None!r});"
            f" expected {CHECKPOINT_FORMAT} from `surrogate train`."
        )
    # LightningCLI adds private entries (_instantiator) that are not constructor arguments.
    settings = {k: v for k, v in checkpoint["hyper_parameters"].items() if not k.startswith("_")}
    module = SurrogateModule(**settings)
    try:
        module.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        raise InputError(
            f"{path}: the weights do not fit the network the checkpoint describes "
            f"({str(error).splitlines()[0]})."
        ) from None
    return module.eval()
