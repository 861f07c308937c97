"""The `surrogate` command line: one subcommand per job, one clear sentence per error."""

from __future__ import annotations

import argparse
import sys

from solvers.errors import InputError, SolverError
from surrogate.commands import dataset, demo, evaluate, generate, ingest, rollout, solve, train


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="surrogate",
        description="Physics surrogates on unstructured meshes, and their reference solver.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    solve.add_parser(subparsers)
    generate.add_parser(subparsers)
    ingest.add_parser(subparsers)
    dataset.add_parser(subparsers)
    train.add_parser(subparsers)
    rollout.add_parser(subparsers)
    evaluate.add_parser(subparsers)
    demo.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if args.command == "train":  # LightningCLI parses the rest
        args.options = unknown
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        args.run(args)
    except (InputError, SolverError, FileExistsError) as error:
        print(f"surrogate {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(
            f"surrogate {args.command}: error: {error.filename}: {error.strerror}.", file=sys.stderr
        )
        return 2
    except KeyboardInterrupt:
        print(f"surrogate {args.command}: interrupted; nothing was written.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
