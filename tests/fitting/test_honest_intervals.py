"""Honest intervals: every interval holds its own estimate, whatever the curve, law or seed; under
autocorrelated noise (AR(1) log-noise, phi 0.9, as smoothed real logs have) the fits' 95 % intervals
cover the truth at least about 90 % of the time; a measured ratio's interval never drops to 0."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import fitting

from .conftest import ar1

TRUE = {"L0": 0.5, "B": 3e3, "beta": 0.3}
LAW = fitting.get_law("step_power")


def holds(estimate: float, low: float, high: float) -> bool:
    return not (math.isfinite(low) and math.isfinite(high)) or low <= estimate <= high


@settings(max_examples=25, deadline=None)
@given(
    law=st.sampled_from(["step_power", "power"]),
    noise=st.sampled_from([0.0, 0.01, 0.05]),
    phi=st.sampled_from([0.0, 0.9]),
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(12, 300),
)
def test_every_interval_holds_its_estimate(law: str, noise: float, phi: float, seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.geomspace(1.0, 1e4, n)
    params = TRUE if law == "step_power" else {"A": 5.0, "alpha": 0.25}
    base = fitting.get_law(law).evaluate(x, params) * np.exp(noise * ar1(rng, phi, n))
    cand = fitting.get_law(law).evaluate(x / 3, params) * np.exp(noise * ar1(rng, phi, n))
    fit = fitting.fit_curve(x, base, law, bootstrap=19, seed=seed)
    for name, (low, high) in fit.ci.items():
        assert holds(fit.params[name], low, high), (name, fit.params[name], low, high)
    result = fitting.compare_curves((x, base), [(x, cand)], law=law, bootstrap=19, seed=seed)
    (c,) = result.candidates
    for a in c.accelerations:
        assert holds(a.ar_fit.value, a.ar_fit.low, a.ar_fit.high)
        assert holds(a.ar_measured.value, a.ar_measured.low, a.ar_measured.high)
        assert not a.ar_measured.has_interval or a.ar_measured.low > 0  # 0 is no resample's ratio
    if c.improvement is not None:
        for e in (c.improvement.B, c.improvement.beta):
            assert holds(e.value, e.low, e.high)


def test_intervals_cover_the_truth_under_autocorrelated_noise() -> None:
    """200 curves of 300 points, 1 % AR(1) log-noise with phi 0.9, 39 resamples each. Measured:
    beta covered 88-93 % over six seeds of this test (the independent residual bootstrap: 43-45 %).
    The bound, 170 of 200 (85 %): a method covering 91 % fails it with probability 0.2 %, one
    covering 80 % passes it with probability 4 %."""
    rng = np.random.default_rng(2024)
    x = np.arange(1.0, 301.0) * 10
    covered = {name: 0 for name in TRUE}
    for i in range(200):
        loss = LAW.evaluate(x, TRUE) * np.exp(0.01 * ar1(rng, 0.9, x.size))
        fit = fitting.fit_curve(x, loss, bootstrap=39, seed=i)
        for name, truth in TRUE.items():
            low, high = fit.ci[name]
            covered[name] += low <= truth <= high
    assert all(count >= 170 for count in covered.values()), covered
