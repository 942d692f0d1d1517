"""Acceleration ratio, speed-up, coefficient improvements: closed form, numeric, measured."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from fitting import (
    InvalidInputError,
    Reach,
    acceleration_ratio,
    acceleration_ratio_measured,
    coefficient_improvement,
    fit_joint,
    get_law,
    speedup_at_loss,
    steps_to_loss,
)
from fitting.ratios_fitted import invert_numeric

from .conftest import noisy

# Gu et al. 2024, Table 1 (Transformer LM), shared L0
CONVENTIONAL = {"L0": 0.0515, "B": 3.16e8, "beta": 0.12}
OPTIMAL = {"L0": 0.0515, "B": 1.99e7, "beta": 0.14}
LAW = get_law("step_power")


def closed_form(t: float) -> float:
    r = CONVENTIONAL["beta"] / OPTIMAL["beta"]
    return t ** (1 - r) * CONVENTIONAL["B"] ** r / OPTIMAL["B"]


@pytest.mark.parametrize("horizon", [1e3, 4e3, 1e5, 1e7])
def test_closed_form_equals_numeric_inversion(horizon: float) -> None:
    target = LAW.evaluate(np.array([horizon]), CONVENTIONAL)
    params = {k: np.asarray(v) for k, v in OPTIMAL.items()}
    numeric = horizon / invert_numeric(LAW, params, target)[0]
    assert acceleration_ratio(CONVENTIONAL, OPTIMAL, horizon).value == pytest.approx(numeric, rel=1e-9)
    assert acceleration_ratio(CONVENTIONAL, OPTIMAL, horizon).value == pytest.approx(closed_form(horizon), rel=1e-12)


def test_closed_form_equals_measured_ar_on_noiseless_curves() -> None:
    x = np.arange(1.0, 4001.0)
    base, cand = LAW.evaluate(x, CONVENTIONAL), LAW.evaluate(x, OPTIMAL)
    measured = acceleration_ratio_measured(x, base, x, cand, 4000, bootstrap=0)
    assert measured.value == pytest.approx(acceleration_ratio(CONVENTIONAL, OPTIMAL, 4000).value, rel=1e-3)


def test_table1_coefficients_give_growing_ar_above_9_at_ten_million_steps() -> None:
    horizons = [1e3, 2e3, 4e3, 8e3, 1e5, 1e7]
    ars = [acceleration_ratio(CONVENTIONAL, OPTIMAL, t).value for t in horizons]
    assert all(b > a for a, b in itertools.pairwise(ars))
    assert ars[-1] > 9
    # AR grows as T^(1 - beta1/beta2)
    assert ars[-1] / ars[0] == pytest.approx((1e7 / 1e3) ** (1 - 0.12 / 0.14), rel=1e-12)


def test_coefficient_improvement_matches_table2() -> None:
    imp = coefficient_improvement(CONVENTIONAL, OPTIMAL)
    assert imp.B.value == pytest.approx(0.937, abs=1e-3)
    assert imp.beta.value == pytest.approx(0.02 / 0.12)


def test_speedup_at_loss_closed_form() -> None:
    target = 3.0
    expected = (3.16e8 / 1.99e7) * (target - 0.0515) ** (1 / 0.14 - 1 / 0.12)
    assert speedup_at_loss(CONVENTIONAL, OPTIMAL, target).value == pytest.approx(expected, rel=1e-12)
    assert math.isinf(steps_to_loss(LAW, {k: np.asarray(v) for k, v in OPTIMAL.items()}, np.asarray(0.01)))


def test_different_l0_uses_inversion_and_unreachable_is_zero() -> None:
    cand = {**OPTIMAL, "L0": 0.08}
    horizon = 4000.0
    target = LAW.evaluate(np.array([horizon]), CONVENTIONAL)[0]
    t2 = cand["B"] * (target - cand["L0"]) ** (-1 / cand["beta"])
    assert acceleration_ratio(CONVENTIONAL, cand, horizon).value == pytest.approx(horizon / t2, rel=1e-12)
    never = {**OPTIMAL, "L0": 10.0}
    assert acceleration_ratio(CONVENTIONAL, never, horizon).value == 0.0


def test_other_laws_compare_through_numeric_inversion() -> None:
    from fitting import fit_curve

    x = np.geomspace(1, 1e4, 200)
    rng = np.random.default_rng(0)
    slow = fit_curve(x, noisy("power", x, {"A": 5.0, "alpha": 0.2}, rng, 0.0), "power")
    fast = fit_curve(x, noisy("power", x, {"A": 5.0, "alpha": 0.3}, rng, 0.0), "power")
    # A T^-a1 = A t^-a2  =>  t = T^(a1/a2)
    assert acceleration_ratio(slow, fast, 1e4).value == pytest.approx(1e4 / 1e4 ** (0.2 / 0.3), rel=1e-6)


def test_bootstrapped_fits_give_intervals_around_the_truth() -> None:
    rng = np.random.default_rng(11)
    x = np.arange(1.0, 4001.0)
    curves = [(x, noisy("step_power", x, p, rng, 0.003)) for p in (CONVENTIONAL, OPTIMAL)]
    base, cand = fit_joint(curves, x_min=400, bootstrap=200, seed=1)
    ar = acceleration_ratio(base, cand, 4000)
    assert ar.has_interval and ar.low < ar.value < ar.high
    assert ar.low < closed_form(4000) < ar.high
    imp = coefficient_improvement(base, cand)
    assert imp.B.has_interval and imp.beta.has_interval
    assert speedup_at_loss(base, cand, 3.0).has_interval
    assert f"{ar:.2f}".count("[") == 1


def test_fit_ar_bad_input() -> None:
    with pytest.raises(InvalidInputError) as err:
        acceleration_ratio(CONVENTIONAL, {"L0": 1.0, "B": 2.0}, 10)
    assert err.value.field == "cand"


def test_compare_curves_reports_everything_for_each_candidate() -> None:
    from fitting import FitImpossibleError, compare_curves

    x = np.arange(1.0, 4001.0)
    rng = np.random.default_rng(5)
    base = noisy("step_power", x, CONVENTIONAL, rng, 0.002)
    cand = noisy("step_power", x, OPTIMAL, rng, 0.002)
    result = compare_curves((x, base), [(x, cand)], x_min=400, target_losses=[3.0], vocab_sizes=[5000, 5000])
    (only,) = result.candidates
    assert [a.horizon for a in only.accelerations] == [4000.0, 4e4, 4e5, 4e6]
    assert only.accelerations[0].ar_fit.value == pytest.approx(closed_form(4000), rel=0.05)
    assert only.accelerations[0].ar_measured.value == pytest.approx(closed_form(4000), rel=0.1)
    assert only.accelerations[0].ar_measured.has_interval
    assert math.isnan(only.accelerations[1].ar_measured.value)  # beyond the measured range
    assert only.accelerations[1].ar_measured.reach is Reach.OUTSIDE
    assert only.improvement is not None and only.improvement.B.value == pytest.approx(0.937, abs=0.05)
    assert only.summary.cr > result.baseline_summary.cr
    assert only.speedups[0].speedup.has_interval
    with pytest.raises(FitImpossibleError):
        compare_curves((x, base), [(x, np.full(x.size, 2.0))])
