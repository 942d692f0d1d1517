"""compute_optimal (Approach 3): closed forms against brute-force minimisation over N, intervals
carried through a fit's resamples, the extrapolation flag, and hostile input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fitting import (
    FitResult,
    InvalidInputError,
    LimitExceededError,
    compute_optimal,
    expression_law,
    fit_curve,
    get_law,
)
from fitting.compute_optimal import MAX_BUDGETS

# Besiroglu et al. 2024 ("Chinchilla Scaling: A replication attempt"), their refit of Hoffmann et
# al.'s Approach 3 on the data they extracted from the paper's figure
REPLICATION = {"E": 1.82, "A": 482.01, "alpha": 0.3478, "B": 2085.43, "beta": 0.3658}
HOFFMANN = {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28}
CHINCHILLA_BUDGET = 5.76e23  # Chinchilla: 70B parameters, 1.4T tokens, 6 N D
BUDGETS = [1e18, 1e21, CHINCHILLA_BUDGET, 1e26]


def brute_force(params: dict[str, float], budget: float, k: float = 6.0) -> tuple[float, float, float]:
    """N*, D*, L* by evaluating the law on a dense grid of N: no calculus, no code under test."""
    n = np.geomspace(1.0, budget / k, 2_000_001)
    d = budget / (k * n)
    loss = params["E"] + params["A"] / n ** params["alpha"] + params["B"] / d ** params["beta"]
    i = int(np.argmin(loss))
    return float(n[i]), float(d[i]), float(loss[i])


@pytest.mark.parametrize("params", [REPLICATION, HOFFMANN, {"E": 0.5, "A": 10.0, "alpha": 0.9, "B": 5e4, "beta": 0.2}])
def test_the_closed_form_is_the_minimum_over_n(params: dict[str, float]) -> None:
    plan = compute_optimal(params, BUDGETS)
    assert plan.method == "closed form"
    for row in plan.rows:
        n, d, loss = brute_force(params, row.budget)
        step = math.log(row.budget / 6.0) / 2_000_000  # the grid's spacing in ln N
        assert abs(math.log(row.n_opt.value / n)) <= step
        assert abs(math.log(row.d_opt.value / d)) <= step
        assert row.loss.value == pytest.approx(loss, rel=1e-10)  # within the grid's quadratic error
        assert row.loss.value <= loss  # the exact minimum is below every grid point
        assert row.tokens_per_param.value == pytest.approx(row.d_opt.value / row.n_opt.value, rel=1e-12)
        assert 6.0 * row.n_opt.value * row.d_opt.value == pytest.approx(row.budget, rel=1e-12)
    assert plan.a.value == pytest.approx(params["beta"] / (params["alpha"] + params["beta"]), rel=1e-12)
    assert plan.a.value + plan.b.value == pytest.approx(1.0)


def test_the_flops_per_token_factor_scales_the_budget() -> None:
    six, eight = compute_optimal(REPLICATION, [1e22]), compute_optimal(REPLICATION, [1e22], flops_per_token=8)
    assert eight.rows[0].n_opt.value < six.rows[0].n_opt.value
    assert 8 * eight.rows[0].n_opt.value * eight.rows[0].d_opt.value == pytest.approx(1e22)
    assert eight.rows[0].n_opt.value == pytest.approx(compute_optimal(REPLICATION, [0.75e22]).rows[0].n_opt.value)


def test_a_law_in_n_and_d_without_a_closed_form_is_minimised_numerically() -> None:
    same = expression_law("E + A / N**alpha + B / D**beta", inputs=("N", "D"))
    fit = _as_fit(same, REPLICATION)
    numeric, closed = compute_optimal(fit, BUDGETS), compute_optimal(REPLICATION, BUDGETS)
    assert numeric.method == "numeric"
    for got, want in zip(numeric.rows, closed.rows, strict=True):
        assert got.n_opt.value == pytest.approx(want.n_opt.value, rel=1e-5)
        assert got.loss.value == pytest.approx(want.loss.value, rel=1e-12)
    assert numeric.a.value == pytest.approx(closed.a.value, rel=1e-5)
    # a law Chinchilla's closed form does not cover: a data-limited term in N D as well
    other = expression_law("E + A / N**alpha + B / D**beta + F / (N * D)**0.05", inputs=("N", "D"))
    params = {**REPLICATION, "F": 3.0}
    plan = compute_optimal(_as_fit(other, params), [1e20, 1e23])
    for row in plan.rows:
        n = np.geomspace(1.0, row.budget / 6.0, 2_000_001)
        d = row.budget / (6.0 * n)
        loss = other.evaluate({"N": n, "D": d}, params)
        assert abs(math.log(row.n_opt.value / n[np.argmin(loss)])) <= 2 * math.log(row.budget / 6.0) / 2_000_000
        assert row.loss.value <= loss.min() + 1e-12


def test_a_budget_without_an_interior_minimum_is_nan_and_said() -> None:
    rising = expression_law("E + A * N**alpha + B * D**-2", inputs=("N", "D"))  # best at one parameter
    plan = compute_optimal(_as_fit(rising, {"E": 1.0, "A": 1.0, "alpha": 0.5, "B": 1.0}), [1e20])
    assert math.isnan(plan.rows[0].n_opt.value) and "no interior minimum" in plan.message


def _as_fit(law: object, params: dict[str, float], samples: np.ndarray | None = None) -> FitResult:
    """A FitResult of these parameters, as a fit of `law` would give them."""
    from fitting.result import FitStatus

    name = law if isinstance(law, str) else law.name  # type: ignore[attr-defined]
    return FitResult(
        law=name, params=params, stderr={}, ci={}, r2=1.0, rmse=0.0, n_points=10, x_range=(1.0, 2.0),
        status=FitStatus.CONVERGED, samples=samples,
    )  # fmt: skip


def chinchilla_like_runs(rng: np.random.Generator, noise: float = 0.01) -> dict[str, np.ndarray]:
    """IsoFLOP-style runs (nine budgets as Hoffmann et al.'s, sizes around each optimum) whose loss
    follows the replication's law with log-normal noise."""
    budgets = np.array([6e18, 1e19, 3e19, 6e19, 1e20, 3e20, 6e20, 1e21, 3e21])
    law = get_law("chinchilla")
    n, d = [], []
    for c in budgets:
        best = compute_optimal(REPLICATION, [c]).rows[0].n_opt.value
        sizes = best * np.geomspace(0.1, 10.0, 14)
        n.append(sizes)
        d.append(c / (6.0 * sizes))
    inputs = {"N": np.concatenate(n), "D": np.concatenate(d)}
    loss = law.evaluate(inputs, REPLICATION) * np.exp(noise * rng.standard_normal(inputs["N"].size))
    return {**inputs, "loss": loss}


def test_intervals_carry_the_fits_resamples_and_cover_the_truth() -> None:
    runs = chinchilla_like_runs(np.random.default_rng(7))
    fit = fit_curve({"N": runs["N"], "D": runs["D"]}, runs["loss"], "chinchilla", bootstrap=400, seed=1)
    plan = compute_optimal(fit, BUDGETS, data=runs)
    truth = compute_optimal(REPLICATION, BUDGETS)
    assert plan.n_resamples == 400
    for got, want in zip(plan.rows, truth.rows, strict=True):
        for name in ("n_opt", "d_opt", "tokens_per_param", "loss"):
            est = getattr(got, name)
            assert est.low <= est.value <= est.high, name
            assert est.low <= getattr(want, name).value <= est.high, (name, got.budget)
    assert plan.a.low <= truth.a.value <= plan.a.high
    assert plan.b.low <= truth.b.value <= plan.b.high
    # the resamples are what the intervals are made of: the same draws by hand
    assert fit.samples is not None and np.isfinite(fit.samples).all()
    a_draws = fit.samples[:, 4] / (fit.samples[:, 2] + fit.samples[:, 4])
    low, high = np.percentile(a_draws, [2.5, 97.5], method="weibull")
    assert (plan.a.low, plan.a.high) == pytest.approx((min(low, plan.a.value), max(high, plan.a.value)), rel=1e-12)


def test_the_extrapolation_is_counted_in_orders_of_magnitude_of_compute() -> None:
    data = {"N": np.array([1e8, 1e9]), "D": np.array([1e9, 1e10])}  # 6e17 .. 6e19 FLOPs
    plan = compute_optimal(REPLICATION, [6e16, 1e18, 6e19, 6e22], data=data)
    assert [r.extrapolation for r in plan.rows] == pytest.approx([1.0, 0.0, 0.0, 3.0])
    assert plan.fitted_compute == pytest.approx((6e17, 6e19))
    assert math.isnan(compute_optimal(REPLICATION, [1e20]).rows[0].extrapolation)  # no data: unknown
    far = compute_optimal(REPLICATION, [1e-300, 1e300], data=data).rows  # ratios that would underflow
    assert [r.extrapolation for r in far] == pytest.approx([317.0 + math.log10(6), 300.0 - 19 - math.log10(6)])


def test_budgets_past_the_floating_point_range_are_not_available_never_infinite() -> None:
    data = {"N": np.array([1e8, 1e9]), "D": np.array([1e9, 1e10])}
    lopsided = {**REPLICATION, "alpha": 0.01, "beta": 1.0}  # N* ~ C^0.99: past 1e308 at C/k = 1e600
    (first,) = compute_optimal(lopsided, [1e300], flops_per_token=1e-300, data=data).rows
    (second,) = compute_optimal(lopsided, [1e21], data=data).rows
    assert math.isnan(first.n_opt.value) and math.isnan(first.tokens_per_param.value)
    assert math.isfinite(second.n_opt.value) and math.isfinite(second.loss.value)
    for k in (1e-300, 6.0, 1e300):  # finite, or NaN: never infinite
        for row in compute_optimal(REPLICATION, [1e-300, 1e300], flops_per_token=k, data=data).rows:
            values = [getattr(row, n).value for n in ("n_opt", "d_opt", "tokens_per_param", "loss")]
            assert not any(math.isinf(v) for v in [*values, row.extrapolation])
    huge = compute_optimal(REPLICATION, [1e21], flops_per_token=1e300, data=data)  # k N D overflows
    assert all(math.isnan(v) for v in huge.fitted_compute) and math.isnan(huge.rows[0].extrapolation)


def test_a_fit_without_resamples_plans_without_intervals_and_says_so() -> None:
    plan = compute_optimal(_as_fit("chinchilla", REPLICATION), [1e21])
    assert plan.n_resamples == 0 and not plan.rows[0].n_opt.has_interval
    assert "no resamples" in plan.message


@pytest.mark.parametrize(
    ("budgets", "index", "words"),
    [([1e21, -1.0], 1, "must be > 0"), ([0.0], 0, "must be > 0"), ([1e20, math.nan], 1, "finite"),
     ([math.inf], 0, "finite"), (["1e21", "lots"], None, "numbers"), ([], None, "at least one")],
)  # fmt: skip
def test_bad_budgets_are_refused_naming_the_field_and_index(
    budgets: list[object], index: int | None, words: str
) -> None:
    with pytest.raises(InvalidInputError) as err:
        compute_optimal(REPLICATION, budgets)
    assert err.value.field == "budgets" and err.value.index == index and words in err.value.message


def test_too_many_budgets_are_a_limit() -> None:
    with pytest.raises(LimitExceededError) as err:
        compute_optimal(REPLICATION, np.geomspace(1e18, 1e25, MAX_BUDGETS + 1))
    assert err.value.field == "budgets" and str(MAX_BUDGETS) in err.value.message
    assert len(compute_optimal(REPLICATION, np.geomspace(1e18, 1e25, MAX_BUDGETS)).rows) == MAX_BUDGETS


@pytest.mark.parametrize("k", [0, -6, math.nan, math.inf, True, "6"])
def test_a_bad_flops_per_token_is_refused(k: object) -> None:
    with pytest.raises(InvalidInputError) as err:
        compute_optimal(REPLICATION, [1e21], flops_per_token=k)  # type: ignore[arg-type]
    assert err.value.field == "flops_per_token"


def test_a_fit_of_a_law_without_n_and_d_is_refused_naming_the_field() -> None:
    steps = np.geomspace(10, 1e5, 200)
    fit = fit_curve(steps, 1.5 + (2e5 / steps) ** 0.35, "step_power")
    with pytest.raises(InvalidInputError) as err:
        compute_optimal(fit, [1e21])
    assert err.value.field == "fit.law"
    assert "step_power has inputs x" in err.value.message and "N and tokens D" in err.value.message


def test_a_fit_without_a_value_is_refused() -> None:
    with pytest.raises(InvalidInputError) as err:
        compute_optimal({**REPLICATION, "beta": math.nan}, [1e21])
    assert err.value.field == "fit" and "beta" in err.value.message


def test_bad_data_is_refused_naming_the_input() -> None:
    with pytest.raises(InvalidInputError) as err:
        compute_optimal(REPLICATION, [1e21], data={"N": [1e9, -1.0], "D": [1e10, 1e10]})
    assert err.value.field == "data.N" and err.value.index == 1
    with pytest.raises(InvalidInputError) as err:
        compute_optimal(REPLICATION, [1e21], data={"N": [1e9]})
    assert err.value.field == "data.D"
