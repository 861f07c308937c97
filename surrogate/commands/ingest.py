"""`surrogate ingest`: turn another solver's time series into a dataset folder."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from solvers.atomic import atomic_folder, refuse_inputs_inside
from surrogate import values
from surrogate.data.ingest import NodeFields, ingest_series, load_rules
from surrogate.data.manifest import write_manifest
from surrogate.data.sample import DatasetError, sample_path, write_sample


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "ingest",
        help="turn VTU/PVD/XDMF time series of another solver into a dataset",
        description="Each SOURCE (a .pvd, a folder of .vtu files, or an .xdmf time series) "
        "becomes one sample with the named point fields; series whose mesh changes between "
        "steps, that lack a field or hold NaNs are refused.",
    )
    p.add_argument("sources", nargs="+", type=Path, metavar="SOURCE")
    p.add_argument(
        "--fields",
        required=True,
        help="comma-separated field names: point data, or cell data (averaged to the nodes)",
    )
    p.add_argument(
        "--pinned",
        default="",
        help="comma-separated fields the boundary conditions prescribe on dirichlet, inflow, "
        "wall and obstacle nodes (kept fixed in training and rollouts)",
    )
    p.add_argument("--out", type=Path, required=True, help="dataset folder")
    p.add_argument("--parts", type=Path, help="YAML rules naming boundary parts by position")
    p.add_argument(
        "--dt",
        type=values.TIME_STEP.flag("--dt"),
        help="time step of a folder of .vtu files (default 1)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    fields = [name.strip() for name in args.fields.split(",") if name.strip()]
    if not fields:
        raise DatasetError(f"--fields is {args.fields!r}; expected field names, e.g. u,v.")
    pinned = {name.strip() for name in args.pinned.split(",") if name.strip()}
    if pinned - set(fields):
        raise DatasetError(
            f"--pinned names {sorted(pinned - set(fields))}, which --fields does not list."
        )
    inputs = [*args.sources, args.parts]
    refuse_inputs_inside(args.out, inputs)  # before reading the series
    rules = load_rules(args.parts) if args.parts else None
    with atomic_folder(args.out, overwrite=args.overwrite, inputs=inputs) as folder:
        samples = []  # written one by one: memory holds one series at a time
        for index, source in enumerate(args.sources):
            sample = ingest_series(source, fields, rules, args.dt)
            write_sample(sample_path(folder, index), sample, field_dtype=np.float64)
            samples.append((len(sample.times), set(sample.meta["cell_data"])))
        from_cells = set().union(*(names for _, names in samples))
        write_manifest(folder, _recipe(args, fields, pinned, rules, from_cells), None, len(samples))
    steps = sum(count for count, _ in samples)
    print(f"{args.out}: {len(samples)} sample(s), {steps} steps, fields {', '.join(fields)}")


def _recipe(args, fields: list[str], pinned: set, rules, from_cells: set) -> dict:
    """The manifest's account of an ingestion: sources, parts and each field's origin."""

    def origin(name: str) -> str:
        if name in from_cells:
            return f"cell field '{name}' as ingested, at the nodes as {NodeFields.CELL_RULE}"
        return f"point field '{name}' as ingested"

    return {
        "name": "ingested",
        "family": "ingest",
        "transient": True,
        "parameters": {"sources": [str(s) for s in args.sources], "parts": rules},
        "fields": {
            name: {"role": "target", "pinned": name in pinned, "units": None,
                   "description": origin(name)}
            for name in fields
        },
    }  # fmt: skip
