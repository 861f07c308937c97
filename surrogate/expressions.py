"""Safe formulas for coefficients and boundary values given on the command line or in YAML.

"1 + x*y", "sin(pi*x) * exp(-t)" and plain numbers are accepted; anything else (attribute
access, names other than the coordinates, t and the listed functions, calls with the wrong
number of arguments) is refused, and nothing is ever passed to eval() without being
checked node by node first. Formulas are bounded in length and nesting, and evaluate under
numpy's error state: an overflow, a division by zero or an invalid value is one sentence
naming the formula, never an infinite or NaN coefficient.
"""

from __future__ import annotations

import ast
import numbers
from collections.abc import Callable

import numpy as np

from solvers.errors import ProblemError

FUNCTIONS = {
    name: getattr(np, name)
    for name in (
        "sin",
        "cos",
        "tan",
        "exp",
        "log",
        "sqrt",
        "abs",
        "tanh",
        "arctan2",
        "minimum",
        "maximum",
        "sinh",
        "cosh",
        "arctan",
        "arcsin",
        "arccos",
        "heaviside",
    )
}
TWO_ARGUMENTS = ("arctan2", "minimum", "maximum", "heaviside")  # the others take one
CONSTANTS = {"pi": np.pi, "e": np.e}
MAX_LENGTH, MAX_DEPTH = 1000, 40  # characters; levels of nested operations
VARIABLES = ("x", "y", "z", "t")
ALLOWED_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Pow,
    ast.Mod,
    ast.USub,
    ast.UAdd,
)

Scalar = float | Callable[..., np.ndarray]


def parse_scalar(text: str | float | int, what: str) -> Scalar:
    """A number, or a callable f(points (P, d), t=0.0) -> (P,) for a formula in x, y, z, t."""
    if isinstance(text, bool) or not isinstance(text, str | numbers.Real):
        raise ProblemError(f"{what} is {text!r}; expected a number or a formula in x, y, z, t.")
    if isinstance(text, numbers.Real):
        if not np.isfinite(text):
            raise ProblemError(f"{what} is {text!r}; expected a finite number.")
        return float(text)
    if len(text) > MAX_LENGTH:
        raise ProblemError(
            f"{what} is a formula of {len(text)} characters; expected at most {MAX_LENGTH}."
        )
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ProblemError(
            f"{what} '{text}' is not a valid formula; expected e.g. 1 + x*y."
        ) from None
    if _depth(tree) > MAX_DEPTH:
        raise ProblemError(
            f"{what} '{text[:60]}...' nests deeper than {MAX_DEPTH} levels; expected a "
            "simpler formula."
        )
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        _check_node(node, text, what)
        if isinstance(node, ast.Name) and node.id in FUNCTIONS and id(node) not in called:
            raise ProblemError(
                f"{what} '{text}' names the function {node.id} without calling it; expected "
                f"e.g. {node.id}(x)."
            )
        if isinstance(node, ast.Constant):
            node.value = float(node.value)  # float powers overflow at once; int ones never end
    code = compile(tree, f"<{what}>", "eval")
    if not any(isinstance(n, ast.Name) and n.id in VARIABLES for n in ast.walk(tree)):
        return float(_evaluate(code, {}, text, what))

    def formula(points: np.ndarray, t: float = 0.0) -> np.ndarray:
        names = {"x": points[:, 0], "y": points[:, 1], "t": t}
        names["z"] = points[:, 2] if points.shape[1] > 2 else np.zeros(len(points))
        value = _evaluate(code, names, text, what)
        return np.broadcast_to(np.asarray(value, dtype=np.float64), (len(points),))

    return formula


def _evaluate(code, names: dict, text: str, what: str):
    """The checked formula's value; one sentence when it is not a finite number."""
    try:
        with np.errstate(all="raise"):
            value = eval(code, {"__builtins__": {}}, {**FUNCTIONS, **CONSTANTS, **names})
    except (ArithmeticError, FloatingPointError, ValueError, TypeError, MemoryError) as error:
        reason = str(error) or type(error).__name__
        raise ProblemError(f"{what} '{text}' cannot be evaluated ({reason}).") from None
    if np.iscomplexobj(value):  # a negative number to a fractional power, in Python floats
        raise ProblemError(f"{what} '{text}' is not a real number; expected real values.")
    if not np.all(np.isfinite(value)):
        raise ProblemError(f"{what} '{text}' is not finite everywhere; expected finite values.")
    return value


def _depth(tree: ast.AST) -> int:
    """How deeply the formula's operations nest (iteratively: no recursion limit)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def parse_vector(text: str | list | tuple, what: str) -> tuple | Callable[..., np.ndarray]:
    """Comma-separated components, each a number, a formula, or 'free' (left unconstrained);
    a single value applies to every component.

    All-number vectors become a tuple (with None for free components); otherwise a callable
    returning (P, components).
    """
    parts = (
        text.split(",")
        if isinstance(text, str)
        else list(text)
        if isinstance(text, list | tuple)
        else [text]
    )
    if len(parts) == 1:  # one value for every component
        single = parse_scalar(parts[0], what)
        return single if not callable(single) else lambda p, t=0.0: single(p, t)[:, None]
    components = [
        None if str(p).strip() in ("free", "None") else parse_scalar(p, what) for p in parts
    ]
    if not any(callable(c) for c in components):
        return tuple(components)
    if any(c is None for c in components):
        raise ProblemError(f"{what} mixes 'free' components with formulas; expected numbers there.")

    def vector(points: np.ndarray, t: float = 0.0) -> np.ndarray:
        columns = [c(points, t) if callable(c) else np.full(len(points), c) for c in components]
        return np.column_stack(columns)

    return vector


def _check_node(node: ast.AST, text: str, what: str) -> None:
    if not isinstance(node, ALLOWED_NODES):
        raise ProblemError(f"{what} '{text}' uses {type(node).__name__}; expected arithmetic only.")
    if isinstance(node, ast.Name) and node.id not in (*VARIABLES, *FUNCTIONS, *CONSTANTS):
        raise ProblemError(
            f"{what} '{text}' uses unknown name '{node.id}'; expected x, y, z, t, pi, e or "
            f"one of {', '.join(FUNCTIONS)}."
        )
    if isinstance(node, ast.Call) and not (
        isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS and not node.keywords
    ):
        raise ProblemError(f"{what} '{text}' calls something other than a listed function.")
    if isinstance(node, ast.Call):
        wanted = 2 if node.func.id in TWO_ARGUMENTS else 1
        if len(node.args) != wanted:
            raise ProblemError(
                f"{what} '{text}' calls {node.func.id} with {len(node.args)} argument(s); "
                f"expected {wanted}."
            )
    if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
        raise ProblemError(f"{what} '{text}' contains {node.value!r}; expected numbers only.")
