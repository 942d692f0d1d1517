"""fit_curve behaviour: robust loss, ranges, fixed parameters, statuses, intervals."""

from __future__ import annotations

import numpy as np
import pytest

from fitting import FitStatus, fit_batch, fit_curve
from fitting.engine import solve
from fitting.laws import STEP_POWER
from fitting.pipeline import pad, row_problem, to_internal
from fitting.validation import prepare_curve

from .conftest import step_power_curve

TRUTH = {"L0": 1.2, "B": 3e6, "beta": 0.3}


def test_result_is_typed_and_complete() -> None:
    x, loss = step_power_curve(np.random.default_rng(0))
    fit = fit_curve(x, loss)
    assert fit.converged and fit.law == "step_power" and fit.method == "robust"
    assert set(fit.params) == set(fit.stderr) == set(fit.ci) == {"L0", "B", "beta"}
    assert fit.n_points == 300 and fit.x_range == (10.0, 1e5)
    assert fit.nfev > 0 and 0.99 < fit.r2 <= 1.0
    assert fit.rmse == pytest.approx(0.01, rel=0.3)  # log residual ~ the 1 % noise
    for name, (low, high) in fit.ci.items():
        assert low < fit.params[name] < high
    assert -1.0 <= fit.correlations["L0"]["beta"] <= 1.0
    assert fit.to_dict()["status"] == "converged"


def test_huber_shrugs_off_spikes_that_bend_least_squares() -> None:
    x, loss = step_power_curve(np.random.default_rng(1), sigma=0.003)
    spiked = loss.copy()
    spiked[::25] *= 3.0  # 12 loss spikes
    robust = fit_curve(x, spiked)
    plain = fit_curve(x, spiked, loss_fn="linear")
    err = {k: abs(robust.params[k] / TRUTH[k] - 1) for k in TRUTH}
    err_plain = {k: abs(plain.params[k] / TRUTH[k] - 1) for k in TRUTH}
    assert err["beta"] < 0.005 and err["B"] < 0.03 and err["L0"] < 0.03
    assert err_plain["B"] > 5 * err["B"] and err_plain["beta"] > 3 * err["beta"]


def test_range_restricts_the_points_used() -> None:
    x, loss = step_power_curve(np.random.default_rng(2))
    fit = fit_curve(x, loss, x_min=100, x_max=1e4)
    inside = (x >= 100) & (x <= 1e4)
    assert fit.n_points == inside.sum()
    assert fit.x_range == (x[inside][0], x[inside][-1])


def test_fixed_parameter_is_held_and_has_no_error() -> None:
    x, loss = step_power_curve(np.random.default_rng(3))
    fit = fit_curve(x, loss, fixed={"L0": 1.2})
    assert fit.params["L0"] == 1.2 and fit.stderr["L0"] == 0.0 and fit.fixed == ("L0",)
    assert fit.params["beta"] == pytest.approx(0.3, rel=0.01)


def test_multi_input_accepts_a_dataframe() -> None:
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"N": 10 ** rng.uniform(7, 10, 200), "D": 10 ** rng.uniform(9, 12, 200)})
    truth = {"E": 1.7, "A": 400.0, "alpha": 0.34, "B": 410.0, "beta": 0.28}
    from fitting import get_law

    loss = get_law("chinchilla").evaluate({"N": frame.N.values, "D": frame.D.values}, truth)
    fit = fit_curve(frame, loss, "chinchilla")
    assert fit.params["E"] == pytest.approx(1.7, rel=1e-3)


def test_non_convergence_is_a_status() -> None:
    x, loss = step_power_curve(np.random.default_rng(5))
    data = prepare_curve(x, loss, STEP_POWER)
    problem = row_problem(STEP_POWER, *pad(STEP_POWER, [data]), {})
    start = to_internal(STEP_POWER, np.array([[1.0, 1e5, 0.5]]))
    assert not solve(problem, start, max_iter=1).converged[0]
    assert solve(problem, start).converged[0]


def test_unidentifiable_when_curve_gives_no_rate() -> None:
    # a curve that is flat within floating point noise on the fitted range
    x = np.geomspace(10, 1e5, 50)
    fit = fit_curve(x, np.full(50, 3.0) * (1 + 1e-15 * np.arange(50)))
    assert fit.status is FitStatus.UNIDENTIFIABLE


COVERAGE_TRIALS = 600


def test_bootstrap_intervals_cover_the_truth_in_95_percent_of_trials() -> None:
    """600 curves, 39 resamples each (the fewest whose percentile interval is a 95 % one), fitted
    at once by fit_batch, which shares the bootstrap and the intervals with fit_curve. The bound
    lets a method that covers 90 % of the time pass with probability <= 1 % per parameter, and
    fails one that covers 95 % with probability <= 1 %."""
    from scipy.stats import binom

    trials, nominal, poor = COVERAGE_TRIALS, 0.95, 0.90
    bound = int(binom.isf(0.01, trials, poor)) + 1  # P(hits >= bound | 90 %) <= 1 %
    assert binom.sf(bound - 1, trials, poor) <= 0.01 and binom.cdf(bound - 1, trials, nominal) <= 0.01
    curves = [step_power_curve(np.random.default_rng(1000 + i), n=80, sigma=0.02) for i in range(trials)]
    fits = fit_batch(curves, bootstrap=39, seed=0)
    assert {f.ci_method for f in fits} == {"bootstrap"}
    for k in TRUTH:
        hits = sum(f.ci[k][0] <= TRUTH[k] <= f.ci[k][1] for f in fits)
        assert hits >= bound, (k, hits, bound, trials)


def test_same_seed_same_bootstrap() -> None:
    x, loss = step_power_curve(np.random.default_rng(6))
    a, b = (fit_curve(x, loss, bootstrap=50, seed=9) for _ in range(2))
    assert a.samples is not None and b.samples is not None
    np.testing.assert_array_equal(a.samples, b.samples)
