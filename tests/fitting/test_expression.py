"""The law language (fitting/formula.py): what it accepts, what it refuses and where, at what cost.

The first tests are the findings of issue 10 as they were reproduced against the asteval-based
expressions: a law read a file, a constant power froze the fit, deep or long text answered with
the interpreter's own errors.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from fitting import FitStatus, UnknownLawError, expression_law, fit_curve, get_law
from fitting.formula import MAX_CHARS, MAX_DEPTH, compile_formula

X = np.arange(1.0, 41.0)
LOSS = 2.0 + (300.0 / X) ** 0.5


def balanced_sum(levels: int) -> str:
    return "a*x" if levels == 0 else f"({balanced_sum(levels - 1)}+{balanced_sum(levels - 1)})"


def refusal(text: str) -> UnknownLawError:
    with pytest.raises(UnknownLawError) as err:
        get_law(text)
    assert err.value.field == "law"
    return err.value


def test_a_law_cannot_read_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SCALINGLAW_TOKEN=hunter2")
    for text in (f"a*x + 0*len(open('{secret}').read())", "a*x + 0*open(x)"):
        with pytest.raises(UnknownLawError) as err:
            fit_curve(X, LOSS, text)
        assert "hunter2" not in str(err.value) and "Errno" not in str(err.value)
    assert refusal("a*x + 0*open(x)").message.startswith("at position 8: function 'open' is not allowed")


def test_a_huge_constant_power_is_refused_without_computing_it() -> None:
    started = time.perf_counter()
    err = refusal("a*x + 0*((9**9999)**999)")
    assert time.perf_counter() - started < 0.5
    assert err.message.startswith("at position 10: the constant 9**9999 is too large")
    for text in ("a*x + 10**300*10", "a*x + exp(exp(exp(10)))", "a*x * 0.5**-2000", "a*x + 1e999"):
        assert "too large" in refusal(text).message, text


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("-" * 600 + "a*x", "nested too deeply"),
        ("+".join(["a*x"] * 20_000), "too long"),
        ("a*x+" + "1+" * 500_000 + "1", "too long"),
        ("+".join(["a*x"] * 1000), "nested too deeply"),  # within the length limit
        ("(" * 300 + "a*x" + ")" * 300, "nested too deeply"),
        ("a*x" + "**x" * 1300, "nested too deeply"),  # Python's own parser gives up on this one
        (balanced_sum(8), "too many terms"),  # 256 terms, 8 levels deep
    ],
)
def test_deep_or_long_text_is_our_error(text: str, words: str) -> None:
    started = time.perf_counter()
    assert words in refusal(text).message
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("E + A * x^alpha", 9, "'^' is not a power here"),
        ("E + A * x % 2", 10, "character '%'"),
        ("E + A * x.real", 8, "attribute access"),
        ("E + A * foo(x)", 8, "function 'foo'"),
        ("E + A * exp(x, 2)", 8, "exp takes exactly one argument"),
        ("E + A * exp", 8, "'exp' is a function"),
        ("E + _A * x", 4, "may not start with '_'"),
        ("E + A * (x", 8, "'(' is never closed"),
        ("E + A * x)", 9, "')' closes nothing"),
        ("E + A *", 7, "ends too early"),
        ("E + * A x", 4, "not a valid expression"),
        ("E + A * x if x else 1", 0, "'if'"),
        ("E + (-8)**(1/3) * x", 4, "not a real number"),
        ("E + A * x / (1 - 1)", 10, "division by zero"),
        ("  E + A * x + 1e999", 14, "number too large"),  # positions count from the text as given
        ("E + A * x + 1j", 12, "only real numbers"),
        ("E + A * x + \u00e9", 12, "character"),
    ],
)
def test_a_refusal_names_the_position(text: str, position: int, words: str) -> None:
    message = refusal(text).message
    assert message.startswith(f"at position {position}: "), message
    assert words in message


def test_whole_law_problems() -> None:
    assert "does not use its input x" in refusal("E + A * y").message
    assert "no parameters" in refusal("exp(x) + 1").message
    assert "too many parameters" in refusal("x + " + " + ".join(f"a{i}" for i in range(21))).message
    assert refusal("x" * (MAX_CHARS + 1)).message.startswith("too long")


def test_limits_leave_room_for_real_laws() -> None:
    bnsl = "E + A * x**-alpha * (1 + (x / x_b)**(1 / s))**(-d * s)"
    assert compile_formula(bnsl).params == ("E", "A", "alpha", "x_b", "s", "d")
    nested = "a*x" + "+(a*x" * (MAX_DEPTH // 2 - 2) + ")" * (MAX_DEPTH // 2 - 2)
    compile_formula(nested)
    assert compile_formula("E + A * exp(-x / tau) * pi").params == ("E", "A", "tau")


def test_evaluation_matches_numpy() -> None:
    f = compile_formula("E + A * exp(-x / tau) + log10(x) * sqrt(x) / (1 + tanh(x)) - abs(-x) ** 0.5 * k")
    env = {"x": X, "E": 1.5, "A": 2.0, "tau": 7.0, "k": 0.1}
    expected = 1.5 + 2.0 * np.exp(-X / 7.0) + np.log10(X) * np.sqrt(X) / (1 + np.tanh(X)) - np.abs(-X) ** 0.5 * 0.1
    np.testing.assert_allclose(f.evaluate(env), expected, rtol=1e-14)


def test_folded_constants_are_computed_once_and_right() -> None:
    f = compile_formula("a * x ** -(2 ** 3 / 4) + 3 * pi")
    np.testing.assert_allclose(f.evaluate({"x": X, "a": 2.0}), 2.0 * X**-2.0 + 3 * np.pi, rtol=1e-14)


def test_gradient_matches_finite_differences() -> None:
    f = compile_formula("E + A * x**-alpha * (1 + (x / x_b)**(1 / s))**(-d * s) + c / log(x + c)")
    point = {"E": 0.5, "A": 6.0, "alpha": 0.1, "x_b": 30.0, "s": 0.5, "d": 0.6, "c": 2.0}
    value, grads = f.evaluate_with_gradient({"x": X, **point})
    np.testing.assert_allclose(value, f.evaluate({"x": X, **point}), rtol=1e-15)
    for name in f.params:
        h = 1e-6 * abs(point[name])
        up = f.evaluate({"x": X, **point, name: point[name] + h})
        down = f.evaluate({"x": X, **point, name: point[name] - h})
        np.testing.assert_allclose(grads[name], (up - down) / (2 * h), rtol=1e-6, atol=1e-10, err_msg=name)


def test_user_parameter_names_never_reach_lmfit() -> None:
    """lmfit keeps its parameters in an asteval symbol table, which refuses names such as these."""
    rng = np.random.default_rng(5)
    x = np.geomspace(10, 1e4, 200)
    loss = (0.5 + 3.0 * x**-0.4) * np.exp(0.002 * rng.standard_normal(x.size))
    fit = fit_curve(x, loss, "eval + exec * x**-e", bounds={"eval": (0, 5), "exec": (0, 100), "e": (0.01, 2)})
    assert fit.status is FitStatus.CONVERGED, fit.message
    assert fit.params["e"] == pytest.approx(0.4, rel=0.02)


def test_an_expression_over_declared_inputs() -> None:
    rng = np.random.default_rng(2)
    n, d = 10 ** rng.uniform(7, 10, 300), 10 ** rng.uniform(9, 12, 300)
    truth = {"E": 1.7, "A": 400.0, "alpha": 0.34, "B": 410.0, "beta": 0.28}
    loss = truth["E"] + truth["A"] / n ** truth["alpha"] + truth["B"] / d ** truth["beta"]
    law = expression_law(
        "E + A / N**alpha + B / D**beta",
        inputs=("N", "D"),
        bounds={"E": (0, 10), "A": (1, 1e4), "alpha": (0.05, 1), "B": (1, 1e4), "beta": (0.05, 1)},
        starts={"E": 1.0, "A": 300.0, "alpha": 0.3, "B": 300.0, "beta": 0.3},
    )
    fit = fit_curve({"N": n, "D": d}, loss, law)
    assert fit.params["alpha"] == pytest.approx(0.34, rel=0.02)
    assert fit.params["beta"] == pytest.approx(0.28, rel=0.02)
