"""Starting a new training run from a trained one (fine-tuning on new data)."""

from __future__ import annotations

import math
from pathlib import Path

from solvers.errors import InputError
from surrogate.model.checkpoint import load_surrogate
from surrogate.training.module import SurrogateModule

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
    old, new = trained.settings, module.hparams
    differences = [(label, old.get(k), new.get(k)) for k, label in SAME_MODEL.items()]
    was, now = trained.schema, module.surrogate.schema
    differences += [(f"the dataset's {k}", getattr(was, k), getattr(now, k)) for k in SAME_SCHEMA]
    if not (was.dt and now.dt and math.isclose(was.dt, now.dt)):
        differences.append(("the dataset's time step", was.dt, now.dt))
    for name, before, after in differences:
        if before != after:
            raise InputError(
                f"{path}: cannot start from this checkpoint: {name} is {_plain(before)!r} in "
                f"it but {_plain(after)!r} in this run; fine-tuning needs the same model and "
                "the same kind of data (set the config to the checkpoint's, or train from "
                "scratch)."
            )
    module.surrogate.load_state_dict(trained.state_dict())


def _plain(value):
    """Field specs by name and size, as a config would state them."""
    if isinstance(value, tuple) and value and hasattr(value[0], "components"):
        return [[spec.name, spec.components] for spec in value]
    return value
