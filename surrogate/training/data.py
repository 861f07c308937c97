"""The LightningDataModule over a stored dataset folder: geometry-wise splits, step items
for training and whole trajectories for the validation rollout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from torch_geometric.loader import DataLoader

from solvers.errors import InputError
from surrogate.data.graphs import MeshDataset, split_by_geometry
from surrogate.data.sample import DatasetError
from surrogate.model.schema import dataset_schema
from surrogate.pooling.hierarchy import SELECT_METHODS
from surrogate.values import NON_NEGATIVE, Number

DEFAULT_HIERARCHY = {"num_levels": 4, "method": "mis", "ratio": 4.0}
HIERARCHY_OPTIONS = {"num_levels", "method", "ratio", "candidates", "min_nodes"}


class MeshDataModule(L.LightningDataModule):
    """folder: a dataset made by `surrogate generate` or `surrogate ingest`;
    split: train / validation / test fractions of the geometries (split_seed shuffles);
    hierarchy: build_hierarchy options (num_levels, method, ratio, ...);
    validation_samples: how many validation trajectories the rollout check uses;
    num_workers: DataLoader worker processes; none by default: on the machines measured a
        worker's batch costs 25-75 ms to hand over (benchmarks/data_pipeline.py), about 10
        to 25 times what building it in the training process costs once samples and
        hierarchies are in memory;
    cache_size: at most this many samples' fields stay in memory (per worker), and at most
        surrogate.data.graphs.FIELD_CACHE_BYTES of them;
    history: states before each training step that items carry (model.pushforward sets it);
    graph_cache: keep each mesh's hierarchy beside the dataset (FOLDER/graphs/), checked
        against the manifest's checksums and rebuilt when stale."""

    def __init__(
        self,
        folder: str,
        batch_size: int = 4,
        split: tuple[float, float, float] = (0.8, 0.1, 0.1),
        split_seed: int = 0,
        hierarchy: dict[str, Any] | None = None,
        validation_samples: int = 8,
        num_workers: int = 0,
        cache_size: int = 4096,
        history: int = 0,
        graph_cache: bool = True,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()  # checkpoints keep the split, for `surrogate evaluate`
        _check_options(
            batch_size,
            split,
            split_seed,
            hierarchy,
            validation_samples,
            num_workers,
            cache_size,
            history,
        )
        self.folder = Path(folder)
        if not (self.folder / "manifest.json").exists():
            raise DatasetError(
                f"{self.folder}: no dataset here (no manifest.json); make one with "
                f"`surrogate generate RECIPE --out {self.folder} --samples N`."
            )
        self.schema = dataset_schema(self.folder).to_dict()  # plain data: the model's hparams
        self.hierarchy = {**DEFAULT_HIERARCHY, **(hierarchy or {})}
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.graph_cache = graph_cache
        self.split, self.split_seed = tuple(split), split_seed
        self.validation_samples, self.cache_size = validation_samples, cache_size
        self.history = history
        self._splits: dict[str, list[int]] | None = None

    def splits(self) -> dict[str, list[int]]:
        """Sample indices per split; read and hashed once (setup runs for every stage)."""
        if self._splits is None:
            self._splits = split_by_geometry(self.folder, self.split, self.split_seed)
        splits = self._splits
        for name in ("train", "validation"):
            if not splits[name]:
                raise DatasetError(
                    f"{self.folder}: the {name} split has no geometry; generate more "
                    f"samples or change data.split (now {list(self.split)})."
                )
        return splits

    def setup(self, stage: str | None = None) -> None:
        splits = self.splits()
        self.train_set = MeshDataset(
            self.folder,
            splits["train"],
            self.hierarchy,
            self.cache_size,
            history=self.history,
            graph_cache=self.graph_cache,
        )
        if not len(self.train_set):
            raise DatasetError(
                f"{self.folder}: model.pushforward {self.history} needs trajectories of at "
                f"least {self.history + 2} states and the training split has none; lower it."
            )
        validation = splits["validation"][: self.validation_samples]
        self.validation_set = MeshDataset(
            self.folder,
            validation,
            self.hierarchy,
            cache_size=1,
            trajectories=True,
            graph_cache=self.graph_cache,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.validation_set, 1, shuffle=False)

    def _loader(self, dataset: MeshDataset, batch_size: int, shuffle: bool) -> DataLoader:
        """Workers stay between epochs (their in-memory samples and graphs with them);
        batches go to pinned memory when they are bound for a GPU."""
        workers = self.num_workers
        return DataLoader(
            dataset,
            batch_size,
            shuffle=shuffle,
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=self._on_gpu(),
        )

    def _on_gpu(self) -> bool:
        trainer = getattr(self, "trainer", None)
        return trainer is not None and trainer.strategy.root_device.type == "cuda"


def _check_options(batch_size, split, split_seed, hierarchy, validation, workers, cache, history):
    """Every data option of the right type and range, before any data is read."""
    for name, value, low in [
        ("batch_size", batch_size, 1),
        ("validation_samples", validation, 1),
        ("num_workers", workers, 0),
        ("cache_size", cache, 1),
        ("split_seed", split_seed, 0),
        ("history", history, 0),
    ]:
        Number(int, low, 1_000_000, meaning=f"data.{name}").check(value, f"data.{name}")
    fractions = [NON_NEGATIVE.check(v, "data.split") for v in split]
    if len(fractions) != 3 or sum(fractions) <= 0:
        raise InputError(
            f"data.split is {list(split)}; expected three non-negative fractions (train, "
            "validation, test) that do not all vanish."
        )
    options = {**DEFAULT_HIERARCHY, **(hierarchy or {})}
    unknown = set(options) - HIERARCHY_OPTIONS
    if unknown:
        raise InputError(
            f"data.hierarchy has {sorted(unknown)}; expected some of {sorted(HIERARCHY_OPTIONS)}."
        )
    if not isinstance(options["method"], str) or options["method"] not in SELECT_METHODS:
        raise InputError(
            f"data.hierarchy.method is {options['method']!r}; expected one of "
            f"{', '.join(SELECT_METHODS)}."
        )
    Number(int, 1, 12).check(options["num_levels"], "data.hierarchy.num_levels")
    Number(float, 1, low_open=True).check(options["ratio"], "data.hierarchy.ratio")
