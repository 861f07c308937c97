"""Loading a trained surrogate from its checkpoint, safely: tensors and plain data only
(weights_only=True), checked to be one of ours before anything is built from it; and
starting a new training run from a trained one (fine-tuning on new data)."""

from __future__ import annotations

import math
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


# What the features and outputs of a model depend on: a checkpoint's weights serve a new
# run only where these agree. The others (noise, lr, pushforward, ...) may change.
SAME_MODEL = {
    "network": "model.network",
    "hierarchy": "data.hierarchy",
    "target_scales": "model.target_scales",
    "superpose": "model.superpose",
    "direct": "model.direct",
}
SAME_SCHEMA = ("transient", "dim", "inputs", "targets", "node_types")


def initialise_from(module: SurrogateModule, path: str | Path) -> None:
    """Fine-tuning: `module`, built for a new run, takes the weights and normaliser
    statistics of the trained checkpoint at `path`, whose network, hierarchy, adapter
    options and dataset fields must be the module's. Training then goes on as if the old
    run continued on the new data (the normalisers keep accumulating), with a fresh
    optimiser and learning-rate schedule."""
    trained = load_surrogate(path)
    old, new = trained.hparams, module.hparams
    differences = [(label, old.get(k), new.get(k)) for k, label in SAME_MODEL.items()]
    differences += [
        (f"the dataset's {k}", old["schema"].get(k), new["schema"].get(k)) for k in SAME_SCHEMA
    ]
    old_dt, new_dt = old["schema"].get("dt"), new["schema"].get("dt")
    if not (old_dt and new_dt and math.isclose(old_dt, new_dt)):
        differences.append(("the dataset's time step", old_dt, new_dt))
    for name, was, now in differences:
        if was != now:
            raise InputError(
                f"{path}: cannot start from this checkpoint: {name} is {was!r} in it but "
                f"{now!r} in this run; fine-tuning needs the same model and the same kind "
                "of data (set the config to the checkpoint's, or train from scratch)."
            )
    module.load_state_dict(trained.state_dict())
