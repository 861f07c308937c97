"""What a surrogate reads and predicts: the dataset's fields, as a small typed record.

A checkpoint and a manifest keep it as plain data (`to_dict`), so it loads without pickle;
`from_dict` reads that back. Fields stack side by side in their order, so a field's
channels in a stacked (..., C) array are `slices(...)[name]`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from solvers.errors import InputError
from surrogate.data.manifest import read_manifest, sample_file
from surrogate.data.sample import DatasetError, read_arrays
from surrogate.node_types import NODE_TYPES

ROLES = ("input", "target")


@dataclass(frozen=True)
class FieldSpec:
    """One field: `components` channels per node; a pinned target has prescribed values on
    the nodes of boundary parts that hold it (dirichlet, inflow, wall, obstacle)."""

    name: str
    components: int
    role: str
    pinned: bool = False
    units: str | None = field(default=None, compare=False)  # not part of what is learnt


@dataclass(frozen=True)
class Schema:
    """recipe and family name the problem (parameters: the recipe's ranges); transient
    problems step by dt; dim is the meshes' dimension; inputs and targets in stacking
    order; node_types the one-hot node types the network reads."""

    recipe: str
    family: str
    transient: bool
    dim: int
    dt: float | None
    inputs: tuple[FieldSpec, ...]
    targets: tuple[FieldSpec, ...]
    node_types: tuple[str, ...]
    parameters: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def input_size(self) -> int:
        return sum(spec.components for spec in self.inputs)

    @property
    def target_size(self) -> int:
        return sum(spec.components for spec in self.targets)

    @property
    def input_names(self) -> list[str]:
        return [spec.name for spec in self.inputs]

    @property
    def target_names(self) -> list[str]:
        return [spec.name for spec in self.targets]

    def slices(self, role: str = "target") -> dict[str, slice]:
        """Channel range of each target (or input) field in the stacked (..., C) values."""
        slices, start = {}, 0
        for spec in self.targets if role == "target" else self.inputs:
            slices[spec.name] = slice(start, start + spec.components)
            start += spec.components
        return slices

    def target_slices(self, option: str, names) -> dict[str, slice]:
        """slices() of the targets, after checking that a model option names only targets."""
        targets = self.slices()
        unknown = sorted(set(names) - set(targets))
        if unknown:
            raise InputError(
                f"{option} names {', '.join(unknown)}, which the dataset does not predict; "
                f"expected targets among {', '.join(targets)}."
            )
        return targets

    def pinned_channels(self) -> list[bool]:
        """(C,) True for the channels of pinned targets."""
        return [spec.pinned for spec in self.targets for _ in range(spec.components)]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (numbers, strings, lists, dicts) for checkpoints and manifests."""
        data = asdict(self)
        data["inputs"] = [asdict(spec) for spec in self.inputs]
        data["targets"] = [asdict(spec) for spec in self.targets]
        data["node_types"] = list(self.node_types)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        """The schema of to_dict's plain data."""
        try:
            return cls(
                recipe=str(data["recipe"]),
                family=str(data["family"]),
                transient=bool(data["transient"]),
                dim=int(data["dim"]),
                dt=None if data["dt"] is None else float(data["dt"]),
                inputs=tuple(FieldSpec(**spec) for spec in data["inputs"]),
                targets=tuple(FieldSpec(**spec) for spec in data["targets"]),
                node_types=tuple(data["node_types"]),
                parameters=dict(data.get("parameters") or {}),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InputError(
                f"the dataset schema is malformed ({type(error).__name__}: {error}); expected "
                "the fields written by `surrogate generate` or `surrogate ingest`."
            ) from None


def as_schema(schema: Schema | dict[str, Any]) -> Schema:
    """A Schema from itself or its plain-data form."""
    return schema if isinstance(schema, Schema) else Schema.from_dict(schema)


def dataset_schema(folder: str | Path) -> Schema:
    """The Schema of a dataset folder (made by `surrogate generate` or `surrogate ingest`),
    read from its manifest and first sample."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if not manifest["samples"]:
        raise DatasetError(f"{folder}: the dataset has no samples.")
    arrays = read_arrays(sample_file(folder, manifest["samples"][0]), ("points", "times"))
    if arrays["points"].ndim != 2:
        raise DatasetError(f"{folder}: its first sample's points are not (N, d); expected a mesh.")
    dim, times = arrays["points"].shape[1], arrays["times"]
    recipe = manifest["recipe"]

    def fields(role: str) -> tuple[FieldSpec, ...]:
        return tuple(
            FieldSpec(name, spec["components"], role, bool(spec.get("pinned")), spec.get("units"))
            for name, spec in manifest["fields"].items()
            if spec.get("role") == role
        )

    return Schema(
        recipe=recipe["name"],
        family=recipe["family"],
        transient=bool(recipe["transient"]),
        dim=int(dim),
        dt=float(times[1] - times[0]) if len(times) > 1 else None,
        inputs=fields("input"),
        targets=fields("target"),
        node_types=NODE_TYPES,
        parameters=recipe["parameters"],
    )
