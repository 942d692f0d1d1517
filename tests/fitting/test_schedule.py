"""The schedule summaries the schedule-aware laws read: S1, S2 and the multi-power law's binned
decrements, against direct loops over every step."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from fitting import InvalidInputError
from fitting.schedule import (
    annealing_area,
    check_schedule,
    decrement_bins,
    forward_area,
    step_rates,
)

from .conftest import schedule

MPL = {"B": 520.0, "C": 2.0, "beta": 0.6, "gamma": 0.63}


def per_step(kind: str, total: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(0.0, total + 1)
    return x, schedule(kind, x, float(total))


def direct_s2(eta: np.ndarray, momentum: float = 0.999) -> np.ndarray:
    """S2 after each step s = 1..T by the recursion itself, eta[0] being step 1's rate."""
    m, total, out, previous = 0.0, 0.0, [], eta[0]
    for rate in eta:
        m = momentum * m + (previous - rate)
        total += m
        out.append(total)
        previous = rate
    return np.array(out)


def direct_drop(eta: np.ndarray, at: np.ndarray) -> np.ndarray:
    """LD(t) of the multi-power law summed step by step: eta[0] is step 1's rate, t integers."""
    area = np.concatenate([[0.0], np.cumsum(eta)])  # area[s]: steps 1..s
    peak = int(np.argmax(eta)) + 1  # the step of the first largest rate
    out = []
    for t in at.astype(int):
        k = np.arange(peak + 1, t + 1)  # steps after warmup, up to t
        rate = eta[k - 1]
        z = MPL["C"] * rate ** -MPL["gamma"] * (area[t] - area[k - 1])
        out.append(MPL["B"] * np.sum((eta[k - 2] - rate) * (1 - (1 + z) ** -MPL["beta"])))
    return np.array(out)


def binned_drop(x: np.ndarray, lr: np.ndarray, at: np.ndarray, max_bins: int | None = None) -> np.ndarray:
    bins = decrement_bins(step_rates(x, lr), at, max_bins)
    z = MPL["C"] * np.exp(-MPL["gamma"] * bins.log_eta) * bins.gap
    return MPL["B"] * np.sum(bins.D * (1 - (1 + z) ** -MPL["beta"]), axis=1)


def test_forward_area_is_the_exact_sum_for_per_step_logs() -> None:
    rng = np.random.default_rng(0)
    x = np.arange(1.0, 2001)
    lr = rng.uniform(0, 1e-3, x.size)
    np.testing.assert_allclose(forward_area(step_rates(x, lr), x), np.cumsum(lr), rtol=1e-12)


def test_forward_area_reads_between_steps_and_is_zero_at_step_zero() -> None:
    x, lr = np.array([0.0, 10.0, 20.0]), np.array([1.0, 1.0, 3.0])
    rates = step_rates(x, lr)
    np.testing.assert_allclose(rates.eta[[0, 9, 14, 19]], [1.0, 1.0, 2.0, 3.0])
    assert forward_area(rates, np.array([0.0, 0.5, 10.0]))[[0, 2]].tolist() == [0.0, 10.0]
    assert forward_area(rates, np.array([0.5]))[0] == pytest.approx(0.5)


@pytest.mark.parametrize("kind", ["cosine", "wsd", "step"])
def test_annealing_area_matches_the_recursion_step_by_step(kind: str) -> None:
    x, lr = per_step(kind, 3000)
    rates = step_rates(x, lr)
    np.testing.assert_allclose(annealing_area(rates, x[1:]), direct_s2(rates.eta), rtol=1e-9, atol=1e-15)


def test_a_constant_rate_has_no_annealing_and_no_decrements() -> None:
    x, lr = np.arange(1.0, 500), np.full(499, 3e-4)
    rates = step_rates(x, lr)
    assert np.all(annealing_area(rates, x) == 0.0)
    assert np.all(decrement_bins(rates, x).D == 0.0)


@pytest.mark.parametrize("kind", ["cosine", "wsd"])
def test_sparse_logs_give_nearly_the_per_step_summaries(kind: str) -> None:
    x, lr = per_step(kind, 24_000)
    sparse = x[::10]
    dense_rates, sparse_rates = step_rates(x, lr), step_rates(sparse, lr[::10])
    s1, s1_sparse = forward_area(dense_rates, sparse), forward_area(sparse_rates, sparse)
    np.testing.assert_allclose(s1_sparse[1:], s1[1:], rtol=1e-3)
    s2, s2_sparse = annealing_area(dense_rates, sparse), annealing_area(sparse_rates, sparse)
    assert np.abs(s2_sparse - s2).max() < 1e-3 * np.abs(s2).max()
    drop = direct_drop(dense_rates.eta, sparse[sparse >= 1000][::20])
    assert np.abs(binned_drop(sparse, lr[::10], sparse[sparse >= 1000][::20]) - drop).max() < 2e-4


def test_decrement_bins_are_exact_for_a_step_schedule() -> None:
    x, lr = per_step("step", 12_000)
    at = x[600::97]
    np.testing.assert_allclose(binned_drop(x, lr, at), direct_drop(step_rates(x, lr).eta, at), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("kind", "bins", "error"), [("cosine", 128, 1.5e-4), ("wsd", 128, 1e-4), ("cosine", 32, 6e-4)])
def test_binned_decrements_stay_close_to_the_step_by_step_sum(kind: str, bins: int, error: float) -> None:
    x, lr = per_step(kind, 24_000)
    at = x[1000::251]
    exact = direct_drop(step_rates(x, lr).eta, at)
    assert exact.max() > 0.1  # the schedule does anneal: the bound is 0.1 % of the drop or less
    assert np.abs(binned_drop(x, lr, at, bins) - exact).max() < error


def test_long_curves_are_summarised_on_a_grid_close_to_every_step() -> None:
    total = 5_000_000  # x in tokens, say: past GRID_CELLS, one cell stands for 2.5 units of x
    x = np.linspace(0, total, 201)
    lr = np.where(x < 2e5, 3e-4 * x / 2e5, 3e-5 + 1.35e-4 * (1 + np.cos(np.pi * (x - 2e5) / (total - 2e5))))
    rates = step_rates(x, lr)
    assert rates.spacing == 2.5
    eta = np.interp(np.arange(1, total + 1), x, lr)  # the sums over every unit of x, exactly
    exact_s1 = np.concatenate([[0.0], np.cumsum(eta)])[x.astype(int)]
    m = lfilter([1.0], [1.0, -0.999], -np.diff(eta, prepend=eta[0]))
    exact_s2 = np.concatenate([[0.0], np.cumsum(m)])[x.astype(int)]
    np.testing.assert_allclose(forward_area(rates, x)[1:], exact_s1[1:], rtol=2e-4)
    assert np.abs(annealing_area(rates, x) - exact_s2).max() < 1e-3 * np.abs(exact_s2).max()


def test_a_negative_rate_is_refused_by_field_and_index() -> None:
    with pytest.raises(InvalidInputError) as err:
        check_schedule(np.array([1.0, 2.0, 3.0]), np.array([1e-3, -1e-4, 0.0]))
    assert (err.value.field, err.value.index) == ("lr", 1)
    check_schedule(np.array([0.0, 1.0]), np.array([0.0, 0.0]))  # a rate of 0 is a rate
