"""Property-based checks (hypothesis) of what users type: any formula text, any YAML text
and any solve config either give a value or one sentence (ProblemError / InputError),
never another exception, a hang or a non-finite number."""

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers.errors import InputError, ProblemError
from surrogate.commands import solve
from surrogate.expressions import FUNCTIONS, TWO_ARGUMENTS, parse_scalar
from surrogate.plain_yaml import parse_yaml

POINTS = np.random.default_rng(0).uniform(-2, 2, size=(7, 3))
EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", 300))  # raise it for a deeper search
QUICK = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def evaluate(text: str):
    """The formula's value at POINTS, or the ProblemError it raises."""
    value = parse_scalar(text, "kappa")
    return value(POINTS, 0.5) if callable(value) else value


def check_formula(text: str) -> None:
    try:
        value = evaluate(text)
    except ProblemError as error:
        assert str(error).startswith("kappa") and "\n" not in str(error)
        return
    assert np.all(np.isfinite(value))


@QUICK
@given(st.text(alphabet="xyzt0123456789.e+-*/%(), sincoexplqrtabhd_", max_size=80))
def test_any_formula_text_is_a_finite_value_or_one_sentence(text):
    check_formula(text)


def formulas():
    """Well-formed formulas: numbers, coordinates and t, combined by the operators and the
    listed functions with their number of arguments (and sometimes the wrong one)."""
    leaves = st.one_of(
        st.sampled_from(["x", "y", "z", "t", "pi", "e"]),
        st.floats(-1e6, 1e6, allow_nan=False).map(repr),
        st.integers(-99, 99).map(str),
    )

    def extend(inner):
        binary = st.tuples(inner, st.sampled_from("+-*/%"), inner).map(
            lambda p: f"({p[0]} {p[1]} {p[2]})"
        )
        power = st.tuples(inner, inner).map(lambda p: f"({p[0]})**({p[1]})")
        call = st.tuples(
            st.sampled_from(sorted(FUNCTIONS)), st.lists(inner, min_size=1, max_size=3)
        ).map(lambda p: f"{p[0]}({', '.join(p[1])})")
        return st.one_of(binary, power, call, inner.map(lambda f: f"-({f})"))

    return st.recursive(leaves, extend, max_leaves=12)


@QUICK
@given(formulas())
def test_any_well_formed_formula_is_a_finite_value_or_one_sentence(text):
    check_formula(text)


def test_the_listed_functions_take_their_number_of_arguments():
    for name in FUNCTIONS:
        wanted = 2 if name in TWO_ARGUMENTS else 1
        arguments = ", ".join(["0.5"] * wanted)
        assert np.isfinite(evaluate(f"{name}({arguments})"))


@QUICK
@given(st.text(max_size=200))
def test_any_yaml_text_is_plain_data_or_one_sentence(text):
    try:
        data = parse_yaml(text, "--set value")
    except InputError as error:
        assert "\n" not in str(error)
        return
    assert data is None or isinstance(data, str | int | float | bool | list | dict | bytes)


ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


@QUICK
@given(st.dictionaries(st.sampled_from(sorted(solve.DEFAULTS)), ANY_VALUE, max_size=6))
def test_any_solve_config_is_checked_values_or_one_sentence(config):
    params = {**solve.DEFAULTS, "geometry": "l_shape", **config}
    try:
        checked = solve._checked(params)
    except ProblemError as error:
        assert "\n" not in str(error)
        return
    for key, kind in solve.NUMBERS.items():  # what passes is of its declared kind
        assert isinstance(checked[key], kind.kind) and np.isfinite(checked[key])
