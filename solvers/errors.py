"""Exception types: each message is one sentence naming what was wrong and what was expected."""


class InputError(ValueError):
    """Base class for bad input (files, arrays, parameters) given to the project."""


class MeshError(InputError):
    """A mesh file or mesh array cannot be used."""


class ProblemError(InputError):
    """A coefficient, boundary condition or problem parameter is invalid."""


class SolverError(RuntimeError):
    """A linear solve failed (for example an iterative solver did not converge)."""


def note(message: str) -> None:
    """One line on stderr about something done on the user's behalf (never an error)."""
    import sys

    print(f"note: {message}", file=sys.stderr)
