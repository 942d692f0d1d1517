"""Numerically hostile curves and options: every fit ends in a result or a domain error, never a
floating-point warning (errors under pytest's settings), a crash or an infinite number; a value the
data cannot give is NaN ("not available") and JSON null in `to_dict`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fitting import (
    FitImpossibleError,
    FitResult,
    FitStatus,
    InvalidInputError,
    compare_curves,
    expression_law,
    fit_curve,
    fit_joint,
)
from fitting.linear import nonneg_linear_fit

X = np.arange(1.0, 41.0)
NORMAL = 2.0 + (300.0 / X) ** 0.5
HOSTILE = {
    "losses near 1e300": (X, 1e300 * (1.0 + 1.0 / X)),
    "losses near 1e-300": (X, 1e-300 * (1.0 + 1.0 / X)),
    "losses from 1e300 to 1e-300": (X, np.geomspace(1e300, 1e-300, X.size)),
    "x up to 1e18": (np.geomspace(1.0, 1e18, X.size), NORMAL),
    "x near 1e18, logs almost equal": (1e18 + 256.0 * X, NORMAL),
    "a single huge spike": (X, np.where(X == 20, 1e300, NORMAL)),
    "a rising curve": (X, 1.0 + X),
    "near-duplicate x": (1.0 + np.arange(8) * 2.3e-16, NORMAL[:8]),
}
LAWS = [("step_power", "robust"), ("step_power", "paper"), ("power", "robust"), ("bnsl", "robust")]
C, U = FitStatus.CONVERGED, FitStatus.UNIDENTIFIABLE
# What each curve gives fitted alone, one status per entry of LAWS (a FitImpossibleError would be
# written "error: <field>"). A change here is a change of behaviour to look at, not noise.
EXPECTED: dict[str, tuple[FitStatus | str, ...]] = {
    "losses near 1e300": (U, C, U, U),
    "losses near 1e-300": (U, C, C, U),
    # exponential, not power-law, decay: the exponents run to (the paper's: past) their bounds
    "losses from 1e300 to 1e-300": (U, U, U, U),
    "x up to 1e18": (C, C, C, C),
    "x near 1e18, logs almost equal": (U, U, U, U),
    "a single huge spike": (C, C, C, C),
    "a rising curve": (U, U, C, U),
    "near-duplicate x": (U, U, U, U),  # eight points at one x determine no exponent
}


def assert_reportable(fit: FitResult) -> None:
    numbers = [*fit.params.values(), *fit.stderr.values(), fit.r2, fit.rmse, *fit.x_range]
    numbers += [v for interval in fit.ci.values() for v in interval]
    assert not any(math.isinf(v) for v in numbers), fit
    json.dumps(fit.to_dict(), allow_nan=False)  # JSON proper: no NaN, no Infinity
    assert fit.status is FitStatus.CONVERGED or fit.message, fit  # a status that says why


@pytest.mark.parametrize(("law", "method"), LAWS)
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_curve_gives_its_status_or_error(name: str, law: str, method: str) -> None:
    x, loss = HOSTILE[name]
    expected = EXPECTED[name][LAWS.index((law, method))]
    try:
        fit = fit_curve(x, loss, law, method=method, bootstrap=10)
    except FitImpossibleError as err:
        assert f"error: {err.field}" == expected and err.message
        return
    assert fit.status == expected, fit.message
    assert_reportable(fit)
    # beside a normal curve, nothing shared: both fits come back, each with a clear status
    for fit in fit_joint([(X, NORMAL), (x, loss)], law, shared=(), method=method, bootstrap=10):
        assert_reportable(fit)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_curve_compares_both_ways(name: str) -> None:
    x, loss = HOSTILE[name]
    for baseline, candidate in (((X, NORMAL), (x, loss)), ((x, loss), (X, NORMAL))):
        result = compare_curves(baseline, [candidate], bootstrap=10, target_losses=[2.5], horizons=[1.0, 1e300])
        assert_reportable(result.baseline_fit)
        assert_reportable(result.candidates[0].fit)


def test_unavailable_values_are_null_in_json() -> None:
    flat = fit_curve(X, np.full(X.size, 2.0)).to_dict()
    assert flat["params"] == {"L0": None, "B": None, "beta": None} and flat["r2"] is None


def test_paper_method_on_a_rising_curve_is_unidentifiable() -> None:
    fit = fit_curve(X, 1.0 + X, method="paper")
    assert fit.status is FitStatus.UNIDENTIFIABLE and "does not fall" in fit.message
    assert fit.params["beta"] < 0


def test_paper_method_on_points_at_one_x_is_unidentifiable() -> None:
    """The regression has no x range to run over: any fall of the loss reads as an endless
    exponent, which the law's box for beta (at most 20) says is no fit of the law."""
    x, loss = HOSTILE["near-duplicate x"]
    fit = fit_curve(x, loss, method="paper")
    assert fit.status is FitStatus.UNIDENTIFIABLE and "above step_power's bound 20" in fit.message
    assert fit.params["beta"] > 1e12
    # the same points spread over a real range of x are a fit
    assert fit_curve(X[:8], loss, method="paper").status is FitStatus.CONVERGED


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"delta": math.inf}, "delta"),
        ({"delta": 1e-320}, "delta"),
        ({"delta": 1e300}, "delta"),
        ({"seed": -1}, "seed"),
    ],
)
def test_options_outside_their_range(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        fit_curve(X, NORMAL, **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"bounds": {"A": (0.0, math.inf)}}, "bounds.A"),
        ({"bounds": {"A": (math.nan, 1.0)}}, "bounds.A"),
        ({"bounds": {"A": (0.0, 1e-14)}}, "bounds.A"),  # lmfit would take it for a point
        ({"starts": {"alpha": math.nan}}, "starts.alpha"),
        ({"starts": {"nope": 1.0}}, "starts"),
    ],
)
def test_expression_bounds_and_starts_are_finite(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        expression_law("E + A * x**-alpha", **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_a_failed_expression_evaluation_does_not_fail_the_next() -> None:
    law = expression_law("E + A * x**-alpha")
    assert not np.any(np.isfinite(law.evaluate(X[1:], {"E": 2.0, "A": 1.0, "alpha": -5e4})))  # x**5e4 overflows
    np.testing.assert_allclose(law.evaluate(X, {"E": 2.0, "A": 300.0**0.5, "alpha": 0.5}), NORMAL)


def test_a_failed_expression_evaluation_does_not_fail_later_fits() -> None:
    law, box = "E + A * x**-alpha", {"E": (0.0, 10.0), "A": (0.0, 1e4), "alpha": (0.01, 3.0)}
    assert fit_curve(X, NORMAL, law, bounds=box).converged
    hostile = fit_curve(X, NORMAL, law, fixed={"alpha": -5e4}, bounds={"alpha": (-1e5, 1e5)})
    assert hostile.status is FitStatus.UNIDENTIFIABLE
    assert fit_curve(X, NORMAL, law, bounds=box).converged


def test_expression_bounds_near_the_float_limit() -> None:
    fit = fit_curve(X, NORMAL, "E + A * x**-alpha", bounds={"A": (-1.7e308, 0.0), "E": (1e308, 1.7e308)})
    assert_reportable(fit)


def test_comparisons_need_a_law_of_x_alone() -> None:
    curve = ({"N": X * 1e6, "D": X * 1e8}, NORMAL)
    with pytest.raises(InvalidInputError) as err:
        compare_curves(curve, [curve], law="chinchilla", shared=("E",))
    assert err.value.field == "law"


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), log_scale=st.sampled_from([-300.0, -100.0, 100.0, 300.0]))
def test_starting_values_scale_with_the_loss(seed: int, log_scale: float) -> None:
    """The least-squares start for c * y is c times the one for y, even near the float limits."""
    rng = np.random.default_rng(seed)
    basis = rng.uniform(0.1, 2.0, size=(1, 20, 2))
    y = rng.uniform(0.5, 3.0, size=(1, 20))
    mask = np.ones((1, 20))
    scale = 10.0**log_scale
    np.testing.assert_allclose(
        nonneg_linear_fit(basis, y * scale, mask), nonneg_linear_fit(basis, y, mask) * scale, rtol=1e-9
    )
