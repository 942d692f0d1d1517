"""The block-wise shortcuts of fit_batch agree with the per-curve arithmetic they replace."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fitting import fit_batch, fit_curve
from fitting.assemble import at_bounds, block_stats
from fitting.engine import gram, masked_median, mean_psi_prime, newton_terms, robust_cost, robust_rho, row_medians
from fitting.errors import InvalidInputError
from fitting.laws import STEP_POWER
from fitting.linear import nonneg_linear_fit, nonneg_pair_fit, relative_weights
from fitting.normal_cdf import interval_probability, normal_cdf
from fitting.pipeline import best_start, pad, row_problem, subsample
from fitting.validation import prepare_alike, prepare_curve
from fitting.verdict import judge_residuals


@pytest.mark.parametrize("n", [1, 2, 7, 100, 101, 1000])
def test_row_medians_match_numpy_to_float32_rounding(n: int) -> None:
    a = np.random.default_rng(n).standard_normal((5, n)) * 10.0 ** np.arange(-3, 2)[:, None]
    np.testing.assert_allclose(row_medians(a), np.median(a, axis=1), rtol=2e-7, atol=0)


def test_masked_median_reads_only_the_valid_entries() -> None:
    rng = np.random.default_rng(0)
    a = np.abs(rng.standard_normal((4, 50)))
    valid = np.ones_like(a, dtype=bool)
    valid[1, 30:] = False  # a padded row
    valid[2, ::2] = False
    valid[3] = False  # nothing valid
    a[~valid] = 1e9  # padding must not move a median
    got = masked_median(a, valid)[:, 0]
    want = [np.median(a[0]), np.median(a[1, :30]), np.median(a[2, 1::2])]
    np.testing.assert_allclose(got[:3], want, rtol=2e-7)
    assert math.isnan(got[3])


def test_block_stats_equal_each_curves_own_sums() -> None:
    rng = np.random.default_rng(1)
    theta = np.column_stack([rng.uniform(0.5, 2, 3), rng.uniform(3, 10, 3), rng.uniform(0.2, 0.8, 3)])
    a = rng.standard_normal((3, 3, 3))
    cov = a @ np.swapaxes(a, 1, 2)
    residuals, log_loss = rng.standard_normal((3, 40)), rng.standard_normal((3, 40))
    valid = np.ones((3, 40), dtype=bool)
    valid[2, 25:] = False
    residuals[2, 25:] = np.nan  # padding
    stats = block_stats(STEP_POWER, theta, cov, residuals, log_loss, valid)
    for i, s in enumerate(stats):
        n = int(valid[i].sum())
        r, y = residuals[i, :n], log_loss[i, :n]
        assert s.ss_res == pytest.approx(float((r**2).sum()), rel=1e-12)
        assert s.ss_tot == pytest.approx(float(((y - y.mean()) ** 2).sum()), rel=1e-12)
        sd = np.sqrt(np.diag(cov[i]))
        np.testing.assert_allclose(s.corr, cov[i] / np.outer(sd, sd), rtol=1e-12)
        assert s.natural == pytest.approx([theta[i, 0], math.exp(theta[i, 1]), theta[i, 2]], rel=1e-12)


def test_a_parameter_on_its_box_is_flagged_and_one_inside_is_not() -> None:
    bounds = [p.internal_bounds for p in STEP_POWER.params]
    inside = [0.5 * (lo + hi) if math.isfinite(lo + hi) else 1.0 for lo, hi in bounds]
    theta = np.array([inside] * 3)
    theta[1, 2] = bounds[2][1]  # beta on its upper bound
    theta[2, 1] = bounds[1][0] + 1e-7  # log B a hair inside its lower one: on it, as lmfit leaves it
    flags = at_bounds(STEP_POWER, theta)
    assert flags.tolist() == [[False, False, False], [False, False, True], [False, True, False]]


def test_fit_batch_reports_what_fit_curve_reports() -> None:
    """The batch's block-wise results against the one-curve path, on noisy curves."""
    rng = np.random.default_rng(2)
    x = np.geomspace(10, 1e5, 300)
    curves = [
        (x, (1.0 + (b / x) ** beta) * np.exp(0.01 * rng.standard_normal(x.size)))
        for b, beta in [(1e3, 0.4), (1e5, 0.7)]
    ]
    for batch, single in zip(fit_batch(curves), [fit_curve(x, y) for x, y in curves], strict=True):
        assert batch.status == single.status and batch.message == single.message
        assert batch.r2 == pytest.approx(single.r2, abs=1e-6)
        for name in ("L0", "B", "beta"):
            assert batch.params[name] == pytest.approx(single.params[name], rel=1e-3)
            assert batch.correlations.keys() == single.correlations.keys()


@pytest.mark.parametrize("x_min, x_max", [(None, None), (50.0, None), (None, 5e3), (20.0, 2e4)])
def test_curves_checked_as_one_block_equal_those_checked_one_by_one(x_min: float | None, x_max: float | None) -> None:
    rng = np.random.default_rng(3)
    x = np.concatenate([[0.0], np.geomspace(10, 1e5, 99)])  # a log that starts at step 0
    curves = [(x, 1.0 + rng.uniform(0.1, 2, 100)) for _ in range(4)]
    block = prepare_alike(curves, STEP_POWER, x_min=x_min, x_max=x_max, n_free=3)
    assert block is not None
    for got, (xi, yi) in zip(block, curves, strict=True):
        want = prepare_curve(xi, yi, STEP_POWER, x_min=x_min, x_max=x_max, n_free=3)
        np.testing.assert_array_equal(got.inputs["x"], want.inputs["x"])
        np.testing.assert_array_equal(got.loss, want.loss)
        assert got.left_out == want.left_out


def test_curves_not_alike_or_not_valid_go_one_by_one_and_the_error_names_the_curve() -> None:
    x = np.geomspace(10, 1e5, 50)
    y = 1.0 + (100 / x) ** 0.5
    law = STEP_POWER
    assert prepare_alike([(x, y), (x[:40], y[:40])], law, x_min=None, x_max=None, n_free=3) is None  # ragged
    bad = y.copy()
    bad[7] = -1.0
    assert prepare_alike([(x, y), (x, bad)], law, x_min=None, x_max=None, n_free=3) is None
    with pytest.raises(InvalidInputError) as caught:
        fit_batch([(x, y), (x, bad)])
    assert caught.value.field == "curves[1].loss" and caught.value.index == 7


def test_the_closed_form_pair_fit_is_the_general_nonnegative_fit() -> None:
    rng = np.random.default_rng(4)
    b, m = 200, 40
    p = rng.uniform(0.01, 2.0, (b, m))
    c0 = rng.uniform(0, 2, b) * (rng.random(b) > 0.3)
    c1 = rng.uniform(-1, 2, b)  # some negative: the active set drops it
    y = np.abs(c0[:, None] + c1[:, None] * p + 0.05 * rng.standard_normal((b, m))) + 1e-3
    mask = (rng.random((b, m)) > 0.1).astype(float)
    want = nonneg_linear_fit(np.stack([np.ones_like(p), p], axis=-1), y, mask)
    ys, w, scale = relative_weights(y, mask)
    sums = [(w * u).sum(axis=1) for u in (np.ones_like(p), p, p * p, ys, p * ys, ys * ys)]
    got0, got1 = nonneg_pair_fit(*sums)
    np.testing.assert_allclose(got0 * scale[:, 0], want[:, 0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got1 * scale[:, 0], want[:, 1], rtol=1e-9, atol=1e-12)


def test_step_power_starts_are_the_same_whether_rows_share_x_or_not() -> None:
    rng = np.random.default_rng(5)
    x = np.geomspace(10, 1e5, 64)
    loss = (
        rng.uniform(0.5, 2, (8, 1)) + (10 ** rng.uniform(2, 6, (8, 1)) / x) ** rng.uniform(0.2, 1, (8, 1))
    ) * np.exp(0.01 * rng.standard_normal((8, 64)))
    mask = np.ones_like(loss)
    shared = STEP_POWER.guess({"x": np.broadcast_to(x, loss.shape)}, loss, mask)
    per_row = STEP_POWER.guess({"x": np.tile(x, (8, 1))}, loss, mask)
    np.testing.assert_allclose(shared, per_row, rtol=1e-9)
    assert shared.shape == (16, 8, 3)


@pytest.mark.parametrize("item", [(1.0, 2.0, 3.0), (1.0,), 3])
def test_an_item_that_is_not_an_x_loss_pair_is_named(item: object) -> None:
    x = np.geomspace(10, 1e4, 50)
    with pytest.raises(InvalidInputError) as caught:
        fit_batch([(x, 1.0 + (100 / x) ** 0.5), item])  # type: ignore[list-item]
    assert caught.value.field == "curves[1]" and "pair" in caught.value.message


def test_curves_given_as_an_iterator_are_fitted() -> None:
    x = np.geomspace(10, 1e4, 50)
    fits = fit_batch(zip([x, x], [1.0 + (100 / x) ** 0.5, 1.2 + (300 / x) ** 0.4], strict=True))
    assert [round(f.params["beta"], 3) for f in fits] == [0.5, 0.4]


def test_the_first_bad_curve_is_named_whatever_a_later_one_holds() -> None:
    x = np.geomspace(10, 1e4, 50)
    bad = 1.0 + (100 / x) ** 0.5
    bad[3] = np.nan
    with pytest.raises(InvalidInputError) as caught:
        fit_batch([(x, bad), ([10**400] * 50, bad)])  # the second's x does not fit in a float
    assert caught.value.field == "curves[0].loss" and caught.value.index == 3


def test_long_alike_curves_are_checked_in_blocks_that_agree_with_one_by_one() -> None:
    rng = np.random.default_rng(6)
    x = np.concatenate([[0.0], np.geomspace(1, 1e5, 20_000 - 1)])
    curves = [(x, 1.0 + rng.uniform(0.1, 1, x.size)) for _ in range(30)]  # ~13 curves per block
    block = prepare_alike(curves, STEP_POWER, x_min=None, x_max=None, n_free=3)
    assert block is not None and len(block) == 30
    for got, (xi, yi) in zip(block, curves, strict=True):
        want = prepare_curve(xi, yi, STEP_POWER, n_free=3)
        np.testing.assert_array_equal(got.loss, want.loss)
        assert got.left_out == want.left_out == 1


def test_float32_normal_cdf_is_within_3e7_of_scipys_everywhere() -> None:
    from scipy.special import ndtr

    z = np.concatenate([np.linspace(-40.0, 40.0, 400_001), [0.0, -0.0, 1e-30, -1e-30, np.inf, -np.inf]])
    got = normal_cdf(z)
    assert got.dtype == np.float32
    assert np.abs(got.astype(float) - ndtr(z)).max() < 3e-7
    assert got[-2] == 1.0 and got[-1] == 0.0  # the tails end at exactly 1 and 0
    lower, upper = np.array([-1.0, 0.5, -3.0]), np.array([1.0, 2.0, -2.0])
    np.testing.assert_allclose(interval_probability(lower, upper), ndtr(upper) - ndtr(lower), atol=6e-7)


@pytest.mark.parametrize("padded", [False, True])
def test_smoothed_psi_prime_agrees_with_the_exact_normal_cdf(padded: bool) -> None:
    """Huber's smoothed psi' (the covariance's scale factor) from float32 CDFs: six digits of the
    mean over each row, which is what the covariance needs."""
    from scipy.special import ndtr

    rng = np.random.default_rng(2)
    r = rng.standard_normal((64, 500)) * 10.0 ** rng.uniform(-4, -1, (64, 1))
    delta = 1.345 * np.std(r, axis=1, keepdims=True) * rng.uniform(0.2, 3.0, (64, 1))
    valid = np.ones_like(r, dtype=bool)
    if padded:
        valid[::3, 400:] = False
        r[~valid] = 0.0
    n = valid.sum(axis=1)
    sigma = 1.4826 * masked_median(np.abs(r), valid)
    h = np.maximum(1.06 * sigma * n[:, None] ** -0.2, 1e-3 * delta)
    exact = ((ndtr((delta - r) / h) - ndtr((-delta - r) / h)) * valid).sum(axis=1) / n
    np.testing.assert_allclose(mean_psi_prime(r, valid, "huber", delta), exact, rtol=1e-6)


@pytest.mark.parametrize("p", [1, 2, 3, 4, 7])
def test_gram_equals_the_matrix_product(p: int) -> None:
    rng = np.random.default_rng(p)
    left, right = rng.standard_normal((5, p, 300)), rng.standard_normal((5, p, 300))
    np.testing.assert_allclose(gram(left, right), left @ np.swapaxes(right, 1, 2), rtol=1e-12, atol=1e-12)


def test_huber_newton_terms_clip_psi_and_floor_the_weight_outside() -> None:
    r = np.array([[-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0]])
    psi, weight = newton_terms(r, "huber", np.array([[1.0]]))
    np.testing.assert_array_equal(psi, [[-1.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.0]])
    np.testing.assert_allclose(weight, [[0.01 / 3, 1.0, 1.0, 1.0, 1.0, 1.0, 0.01 / 3]])
    assert np.array_equal(robust_rho(r, "huber", 1.0), [[2.5, 0.5, 0.125, 0.0, 0.125, 0.5, 2.5]])


def test_curves_on_the_same_points_share_one_row_of_inputs() -> None:
    rng = np.random.default_rng(3)
    x = np.geomspace(1.0, 1e4, 500)
    curves = [
        prepare_curve(x.copy(), 1.0 + (50.0 / x) ** 0.4 * np.exp(0.01 * rng.standard_normal(500)), STEP_POWER)
        for _ in range(6)
    ]
    inputs, loss, mask = pad(STEP_POWER, curves)
    assert inputs["x"].shape == (1, 500) and loss.shape == (6, 500) and mask.all()
    moved = [*curves[:5], prepare_curve(x * 1.001, curves[5].loss, STEP_POWER)]
    assert pad(STEP_POWER, moved)[0]["x"].shape == (6, 500)  # one curve elsewhere: a row each
    # the subsample of the shared row takes the points each row's own choice takes
    shared = row_problem(STEP_POWER, inputs, loss, mask, {})
    whole = row_problem(STEP_POWER, {"x": np.repeat(inputs["x"], 6, axis=0)}, loss, mask, {})
    a, b = subsample(shared), subsample(whole)
    assert a.inputs["x"].shape == (1, b.log_loss.shape[1])
    np.testing.assert_array_equal(np.broadcast_to(a.inputs["x"], b.inputs["x"].shape), b.inputs["x"])
    np.testing.assert_array_equal(a.log_loss, b.log_loss)
    np.testing.assert_array_equal(a.mask, b.mask)


def test_a_batch_on_shared_points_fits_as_one_on_points_of_its_own() -> None:
    """The shared row changes how the passes read x, not the arithmetic of any row: the same fits
    as in a block whose last curve, on other points, makes every row carry its own x."""
    rng = np.random.default_rng(4)
    x = np.geomspace(10.0, 1e5, 800)
    truth = rng.uniform([0.5, 1e2, 0.2], [3.0, 1e6, 0.9], (5, 3))
    losses = [l0 + (b / x) ** beta * np.exp(0.02 * rng.standard_normal(800)) for l0, b, beta in truth]
    shared = fit_batch([(x, y) for y in losses])
    own = fit_batch([*((x, y) for y in losses), (x * 1.5, losses[0])])[:5]
    for a, b in zip(shared, own, strict=True):
        assert a.status == b.status and a.verdict is not None and b.verdict is not None
        assert (a.verdict.good, a.verdict.reason) == (b.verdict.good, b.verdict.reason)
        for stat in ("r2", "systematic", "lag1", "runs_z"):  # sums in another order: the last bits may differ
            assert getattr(a.verdict, stat) == pytest.approx(getattr(b.verdict, stat), rel=1e-9, abs=1e-12)
        for name in ("L0", "B", "beta"):
            assert a.params[name] == pytest.approx(b.params[name], rel=1e-9)
            assert a.ci[name] == pytest.approx(b.ci[name], rel=1e-9)


def test_best_start_scores_every_start_as_one_by_one_would() -> None:
    """The starts scored together pick what scoring them one after another picked: the lowest
    robust cost per row, the first of equal ones, starts outside the box clipped onto it."""
    rng = np.random.default_rng(5)
    x = np.geomspace(10.0, 1e4, 64)
    loss = 1.0 + (rng.uniform(1e2, 1e4, (40, 1)) / x) ** rng.uniform(0.2, 0.8, (40, 1))
    mask = np.ones_like(loss)
    mask[::4, 50:] = 0.0  # padded rows
    problem = row_problem(STEP_POWER, {"x": np.broadcast_to(x, loss.shape).copy()}, loss, mask, {"L0": 1.0})
    starts = np.stack(
        [np.column_stack([np.zeros(40), rng.uniform(0, 12, 40), rng.uniform(0.05, 1, 40)]) for _ in range(9)]
    )
    starts[3] = starts[1]  # ties: the earlier start is kept
    starts[:, 7, 1] = 1e9  # every start of a row past B's bound
    want = []
    lower, upper = problem.bounds()
    for i in range(40):
        costs = []
        for s in starts:
            s = np.clip(s[i : i + 1], lower, upper)
            s[:, 0] = starts[0][i, 0]
            c = float(robust_cost(problem.rows(np.array([i])).residuals(s), problem.mask[i : i + 1], "huber", 1e-3)[0])
            costs.append(c if math.isfinite(c) else math.inf)
        k = int(np.argmin(costs))
        want.append(np.clip(starts[k, i], lower, upper))
    got = best_start(problem, starts, "huber", 1e-3)
    np.testing.assert_array_equal(got, np.array(want))


def test_verdicts_from_the_solvers_residuals_equal_the_laws_evaluated_again() -> None:
    """A block on shared points is judged from the residuals its solver holds; the verdicts equal
    those from the law evaluated again at each result's parameters (entry.with_verdicts' way)."""
    rng = np.random.default_rng(6)
    x = np.geomspace(10.0, 1e5, 600)
    truth = rng.uniform([0.5, 1e2, 0.2], [3.0, 1e6, 0.9], (12, 3))
    losses = np.array([l0 + (b / x) ** beta * np.exp(0.02 * rng.standard_normal(600)) for l0, b, beta in truth])
    losses[::3] *= 1 + 0.05 * np.exp(-((np.log(x) - 7) ** 2))  # a bump the law misses
    fits = fit_batch([(x, y) for y in losses])
    assert {f.verdict.good for f in fits} == {True, False}
    for fit, y in zip(fits, losses, strict=True):
        params = {k: np.asarray(v) for k, v in fit.params.items()}
        again = judge_residuals(x, np.log(y) - STEP_POWER.log_model({"x": x}, params), np.log(y))
        assert fit.verdict.good == again.good and fit.verdict.reason == again.reason
        np.testing.assert_allclose(
            [fit.verdict.r2, fit.verdict.systematic, fit.verdict.lag1, fit.verdict.runs_z],
            [again.r2, again.systematic, again.lag1, again.runs_z],
            rtol=1e-9,
        )
