"""The verdict says whether a law describes a curve: right where the truth is known (a law that
holds under white, autocorrelated and spiky noise; a learning-rate warm-down and an exponential
that it cannot describe) and on real public logs (tests/data/schedules)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fitting
from fitting.comparison import judge_agreement
from fitting.result import Estimate
from fitting.verdict import judge_residuals, runs_test

from .conftest import ar1

SCHEDULES = Path(__file__).resolve().parents[1] / "data" / "schedules"
X = np.arange(1.0, 1201.0)
CLEAN = 0.5 + (3e3 / X) ** 0.3
TRIALS = 25


def verdict(x: np.ndarray, loss: np.ndarray) -> fitting.verdict.Verdict:
    fit = fitting.fit_curve(x, loss)
    residuals = np.log(loss) - np.log(fitting.get_law("step_power").evaluate(x, fit.params))
    return judge_residuals(x, residuals, np.log(loss))


NOISES = {
    "white 1 %": lambda rng: np.exp(0.01 * rng.standard_normal(X.size)),
    "white 3 %": lambda rng: np.exp(0.03 * rng.standard_normal(X.size)),
    "AR(1) phi 0.9, 1 %": lambda rng: np.exp(0.01 * ar1(rng, 0.9, X.size)),
    "1 % spikes of 50 %": lambda rng: (
        np.exp(0.01 * rng.standard_normal(X.size)) * np.where(rng.random(X.size) < 0.01, 1.5, 1.0)
    ),
}


@pytest.mark.parametrize("noise", NOISES, ids=list(NOISES))
def test_a_law_that_holds_is_called_good_under_noise(noise: str) -> None:
    rng = np.random.default_rng(11)
    good = sum(verdict(X, CLEAN * NOISES[noise](rng)).good for _ in range(TRIALS))
    # designed for about 0.5 % false alarms; 2 of 25 or more has probability 0.7 % at 0.5 %, and
    # is what a 10 % false-alarm rate gives 73 % of the time
    assert good >= TRIALS - 1


def test_a_warm_down_and_an_exponential_are_called_poor_with_where() -> None:
    rng = np.random.default_rng(12)
    warm_down = np.where(X > 960, np.exp(-0.08 * (X - 960) / 240), 1.0)
    for _ in range(10):
        v = verdict(X, CLEAN * warm_down * np.exp(0.005 * rng.standard_normal(X.size)))
        assert not v.good and "the law misses the curve" in v.reason and v.systematic > 0.01
        exponential = (0.5 + 3 * np.exp(-X / 300)) * np.exp(0.005 * rng.standard_normal(X.size))
        assert not verdict(X, exponential).good


def test_the_statistics_are_what_they_say() -> None:
    assert runs_test(np.array([1.0, -1.0] * 50)) > 5  # alternating: far too many runs
    assert runs_test(np.r_[np.ones(50), -np.ones(50)]) < -5  # two long runs
    v = verdict(X, CLEAN)
    assert v.good and v.r2 > 0.999999 and v.systematic < 1e-6
    short = judge_residuals(X[:20], np.zeros(20), np.log(CLEAN[:20]))
    assert short.good and "too few" in short.reason


@pytest.mark.parametrize(
    ("name", "good"),
    [
        ("multipowerlaw_400m_constant_24000", True),  # a constant rate: the power law holds
        ("multipowerlaw_400m_constant_72000", True),
        ("multipowerlaw_400m_wsd_20000_24000", False),  # the decay at the end: it does not
        ("multipowerlaw_400m_wsdld_20000_24000", False),
        ("multipowerlaw_400m_wsdcon_3", False),  # a rate cut to a tenth halfway
        ("moddednanogpt_adamw_wsd", False),
    ],
)
def test_real_logs_step_power_against_its_schedule(name: str, good: bool) -> None:
    data = pd.read_csv(SCHEDULES / f"{name}.csv")
    data = data[data.step > 0]
    v = verdict(data.step.to_numpy(float), data.loss.to_numpy(float))
    assert v.good is good, v.reason


def test_fitted_and_measured_numbers_agree_or_not() -> None:
    assert judge_agreement(Estimate(2.0, 1.8, 2.2), Estimate(2.1, 2.0, 2.3), "AR")[0]
    agree, reason = judge_agreement(Estimate(0.76, 0.74, 0.78), Estimate(1.04, 1.0, 1.05), "AR")
    assert not agree and reason.startswith("AR from the fits and measured disagree")
    assert judge_agreement(Estimate(2.0), Estimate(2.05), "speed-up")[0]
    assert not judge_agreement(Estimate(2.0), Estimate(2.5), "speed-up")[0]


def test_a_fitted_ar_read_before_the_fitted_range_says_so() -> None:
    # AR 14 at T 2000: the candidate reaches the baseline's final loss at t ~ 144, and it bends
    # away from its law there. Fitted from t 200 (T / 10), the AR from the fits reads the law
    # before its range and misses the measured AR; the verdict names the cause and the remedy.
    t = np.arange(1, 2001, dtype=float)
    base = 0.25 + 50 / t
    cand = (0.12 + (20 / t) ** 0.9) * (1 - 0.3 * np.exp(-t / 80))
    late = fitting.compare_curves((t, base), [(t, cand)], x_min=200, horizons=[2000], bootstrap=0).candidates[0]
    assert not late.verdict.good
    assert "reaches the baseline's final loss at x 144, before its fitted range starts at 200" in late.verdict.reason
    early = fitting.compare_curves((t, base), [(t, cand)], x_min=20, horizons=[2000], bootstrap=0).candidates[0]
    ar = early.accelerations[0]
    assert abs(ar.ar_fit.value / ar.ar_measured.value - 1) < 0.05
    assert "before its fitted range" not in early.verdict.reason
