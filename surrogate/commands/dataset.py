"""`surrogate dataset check|info DIR`: verify or summarise a dataset folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from surrogate.data.manifest import check_dataset, dataset_info
from surrogate.data.sample import DatasetError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "dataset",
        help="check or summarise a dataset folder",
        description="check: verify the manifest's schema, every sample's checksum and "
        "contents, naming each bad file; info: recipe, sample count, fields, mesh sizes.",
    )
    p.add_argument("action", choices=("check", "info"))
    p.add_argument("folder", type=Path)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    if args.action == "info":
        print(dataset_info(args.folder))
        return
    problems = check_dataset(args.folder)
    if problems:
        for problem in problems[:-1]:
            print(problem)
        raise DatasetError(f"{len(problems)} problem(s); the last: {problems[-1]}")
    print(f"{args.folder}: all samples present and intact.")
