"""Accuracy under ordinary noise: the Huber scale estimated from the residuals.

Known step_power curves at 1, 4 and 8 % Gaussian noise on log loss, with and without spikes.
Least squares (loss_fn="linear") is the efficient fit for Gaussian noise and the one a spike
ruins; the default fit must be as accurate as it on clean noise and stay robust to spikes.
"""

from __future__ import annotations

import numpy as np
import pytest

from fitting import FitStatus, fit_batch, fit_curve

N_CURVES = 200
X = np.geomspace(10, 1e5, 600)


def curves(sigma: float, seed: int, spikes: float = 0.0) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Seeded curves; `spikes` is the share of points multiplied by 3 (a loss spike)."""
    rng = np.random.default_rng(seed)
    l0, b, beta = rng.uniform(0.5, 3, N_CURVES), 10 ** rng.uniform(2, 8, N_CURVES), rng.uniform(0.1, 1.0, N_CURVES)
    clean = l0[:, None] + (b[:, None] / X) ** beta[:, None]
    noisy = clean * np.exp(sigma * rng.standard_normal(clean.shape))
    noisy *= np.where(rng.uniform(size=clean.shape) < spikes, 3.0, 1.0)
    return [(X, row) for row in noisy], beta


def beta_errors(curves: list[tuple[np.ndarray, np.ndarray]], beta: np.ndarray, **options: object) -> np.ndarray:
    fitted = np.array([fit.params["beta"] for fit in fit_batch(curves, **options)])  # type: ignore[arg-type]
    return np.abs(fitted / beta - 1.0)


@pytest.mark.parametrize("sigma", [0.01, 0.04, 0.08])
def test_as_accurate_as_least_squares_under_gaussian_noise(sigma: float) -> None:
    data, beta = curves(sigma, seed=11)
    ours, least_squares = beta_errors(data, beta), beta_errors(data, beta, loss_fn="linear")
    l1_like = beta_errors(data, beta, delta=1e-3)  # the old fixed scale: every point in the linear part
    assert np.median(ours) <= 1.08 * np.median(least_squares)  # Huber's 95 % efficiency: about 1.03
    assert np.mean(ours > 0.1) <= np.mean(least_squares > 0.1) + 1.0 / N_CURVES
    assert np.median(l1_like) > 1.15 * np.median(least_squares)  # (about 1.3: the test tells them apart)


@pytest.mark.parametrize("sigma", [0.01, 0.04, 0.08])
def test_spikes_move_the_fit_little(sigma: float) -> None:
    clean, beta = curves(sigma, seed=12)
    spiked, _ = curves(sigma, seed=12, spikes=0.03)
    ours_clean, ours_spiked = beta_errors(clean, beta), beta_errors(spiked, beta)
    least_squares = beta_errors(spiked, beta, loss_fn="linear")
    assert np.median(ours_spiked) <= 1.3 * np.median(ours_clean)
    assert np.median(least_squares) > 2.0 * np.median(ours_spiked)


def test_the_scale_is_estimated_unless_given() -> None:
    (x, loss), *_ = curves(0.04, seed=13)[0]
    estimated = fit_curve(x, loss)
    assert estimated.extra["delta"] == pytest.approx(1.345 * 0.04, rel=0.15)
    given = fit_curve(x, loss, delta=0.5)
    assert given.extra["delta"] == 0.5
    assert given.params["beta"] != estimated.params["beta"]
    assert "delta" not in fit_curve(x, loss, loss_fn="linear").extra


def test_a_parameter_on_its_bound_is_not_converged() -> None:
    x = np.geomspace(10, 1e3, 300)
    rng = np.random.default_rng(0)
    steep = (1.0 + (50.0 / x) ** 30) * np.exp(0.001 * rng.standard_normal(x.size))  # beta 30 > its bound, 20
    fit = fit_curve(x, steep)
    assert fit.status is FitStatus.UNIDENTIFIABLE and fit.message == "ran to a bound: beta"
    assert fit_batch([(x, steep)])[0].message == "ran to a bound: beta"
    power = 0.5 + 3.0 * x**-0.5
    fit = fit_curve(x, power, "E + A * x**-alpha", bounds={"alpha": (0.01, 0.3)})
    assert fit.status is FitStatus.UNIDENTIFIABLE and fit.message == "ran to a bound: alpha"
