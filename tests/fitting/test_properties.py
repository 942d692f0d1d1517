"""Property-based checks of the building blocks (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import nnls

from fitting import ScalingLawError, UnknownLawError, acceleration_ratio, compression_ratio, fit_curve, speedup_at_loss
from fitting.formula import Formula, compile_formula
from fitting.linear import nonneg_linear_fit

from .law_text import law_characters, law_trees

params = st.fixed_dictionaries(
    {
        "L0": st.floats(0.0, 3.0),
        "B": st.floats(1e2, 1e9),
        "beta": st.floats(0.05, 1.5),
    }
)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 3), m=st.integers(4, 30))
def test_nonneg_linear_fit_equals_scipy_nnls(seed: int, k: int, m: int) -> None:
    rng = np.random.default_rng(seed)
    basis = rng.uniform(0.1, 2.0, size=(1, m, k))
    y = rng.uniform(0.5, 3.0, size=(1, m))
    ours = nonneg_linear_fit(basis, y, np.ones((1, m)))[0]
    w = 1.0 / y[0]  # the weight is mask / y^2 on squared errors
    ref, _ = nnls(basis[0] * w[:, None], y[0] * w)
    cost = lambda c: float((((basis[0] @ c) - y[0]) * w) ** 2 @ np.ones(m))  # noqa: E731
    assert np.all(ours >= 0)
    assert cost(ours) == pytest.approx(cost(ref), rel=1e-7, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(p=params, horizon=st.floats(10.0, 1e8))
def test_a_process_is_never_faster_than_itself(p: dict[str, float], horizon: float) -> None:
    assert acceleration_ratio(p, p, horizon).value == pytest.approx(1.0, rel=1e-9)


@settings(max_examples=100, deadline=None)
@given(p=params, factor=st.floats(0.05, 0.95), target_gap=st.floats(0.01, 5.0))
def test_smaller_b_is_a_speed_up_by_exactly_the_ratio(p: dict[str, float], factor: float, target_gap: float) -> None:
    cand = {**p, "B": p["B"] * factor}  # same L0 and beta: t(L*) scales with B
    value = speedup_at_loss(p, cand, p["L0"] + target_gap).value
    assert value == pytest.approx(1.0 / factor, rel=1e-9)


@settings(max_examples=50, deadline=None)
@given(loss=st.lists(st.floats(0.01, 20.0), min_size=1, max_size=50), vocab=st.integers(2, 100_000))
def test_lower_losses_compress_better(loss: list[float], vocab: int) -> None:
    lower = [v * 0.5 for v in loss]
    assert compression_ratio(lower, vocab) == pytest.approx(2.0 * compression_ratio(loss, vocab))


# -- the law language: whatever the text, our error or a law that evaluates -----------------------

X_POINTS = np.geomspace(1.0, 1e5, 7)


def compiled_or_refused(text: str) -> Formula | None:
    """The law, or None after checking the refusal is ours: field "law", a position inside the text."""
    try:
        return compile_formula(text)
    except UnknownLawError as err:
        assert err.field == "law" and err.message
        if err.message.startswith("at position "):
            position = int(err.message.split(":")[0].removeprefix("at position "))
            assert 0 <= position <= len(text), (text, err.message)
        return None


def assert_evaluates(formula: Formula, values: list[float]) -> None:
    env = {"x": X_POINTS, **dict(zip(formula.params, values, strict=False))}
    env.update({name: 1.5 for name in formula.params if name not in env})
    value = formula.evaluate(env)
    assert value.shape in ((), X_POINTS.shape)
    dual, grads = formula.evaluate_with_gradient(env)
    np.testing.assert_array_equal(dual, value)  # one pass gives the same numbers (NaN where NaN)
    assert set(grads) == set(formula.params)


@settings(max_examples=300, deadline=None)
@given(text=law_trees, values=st.lists(st.floats(-1e3, 1e3), max_size=6))
def test_random_law_trees_compile_or_are_refused_by_us(text: str, values: list[float]) -> None:
    formula = compiled_or_refused(text)
    if formula is not None:
        assert_evaluates(formula, values)


@settings(max_examples=300, deadline=None)
@given(text=law_characters)
def test_random_law_text_compiles_or_is_refused_by_us(text: str) -> None:
    formula = compiled_or_refused(text)
    if formula is not None:
        assert_evaluates(formula, [])


@settings(max_examples=60, deadline=None)
@given(text=law_trees)
def test_fitting_a_random_law_gives_a_result_or_our_error(text: str) -> None:
    x = np.arange(1.0, 21.0)
    try:
        fit = fit_curve(x, 2.0 + (30.0 / x) ** 0.5, text)
    except ScalingLawError as err:
        assert err.field is not None and err.message
        return
    assert not any(np.isinf(v) for v in fit.params.values())
