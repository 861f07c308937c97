"""The `surrogate` command line: one subcommand per job, one clear sentence per error."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from pathlib import Path

from solvers.errors import InputError, SolverError
from surrogate.commands import dataset, demo, evaluate, generate, ingest, rollout, solve, train


class Parser(argparse.ArgumentParser):
    """argparse, with its refusals as one sentence (no usage block before it)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message.rstrip('.')} (see {self.prog} --help).\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
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
    try:
        args, unknown = parser.parse_known_args(argv)
    except SystemExit as exit_:  # argparse has printed its usage and one sentence
        return int(exit_.code or 0)
    if args.command == "train":  # LightningCLI parses the rest
        args.options = unknown
    elif unknown:
        try:
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        except SystemExit as exit_:
            return int(exit_.code)
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
    except Exception as error:  # a bug, not bad input: one sentence, the traceback in a file
        log = _crash_log(args.command)
        print(
            f"surrogate {args.command}: internal error ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:200] if str(error) else 'no message'}); this is a "
            f"bug, please report it with the traceback written to {log}.",
            file=sys.stderr,
        )
        return 3
    return 0


def _crash_log(command: str) -> Path:
    """Writes the current exception's traceback to a new file in the temporary folder."""
    handle, name = tempfile.mkstemp(prefix=f"surrogate-{command}-crash-", suffix=".log")
    with os.fdopen(handle, "w") as log:
        traceback.print_exc(file=log)
    return Path(name)


if __name__ == "__main__":
    sys.exit(main())
