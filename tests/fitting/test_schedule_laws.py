"""The schedule-aware laws lr_annealing and multi_power: exact derivatives, recovery under cosine,
WSD and step schedules, prediction across schedules, input checks, and the fitting paths
(range, subsample, batch padding, joint fits, bootstrap) on their derived inputs."""

from __future__ import annotations

import numpy as np
import pytest

from fitting import (
    FitStatus,
    InvalidInputError,
    fit_batch,
    fit_curve,
    fit_joint,
    get_law,
    predict,
)
from fitting.schedule import annealing_area, forward_area, step_rates
from fitting.validation import prepare_curve

from .conftest import PEAK_LR, RECOVERY_CASES, noisy, schedule

TOTAL = 12_000.0
ANNEALING = RECOVERY_CASES["lr_annealing"][0]
MULTI_POWER = RECOVERY_CASES["multi_power"][0]
TRUTH = {"lr_annealing": ANNEALING, "multi_power": MULTI_POWER}


def curve(kind: str, every: float = 10.0, total: float = TOTAL) -> dict[str, np.ndarray]:
    x = np.arange(every, total + every / 2, every)
    return {"x": x, "lr": schedule(kind, x, total)}


def synthetic(law: str, kind: str, seed: int, sigma: float = 0.005, every: float = 10.0) -> tuple[dict, np.ndarray]:
    inputs = curve(kind, every)
    return inputs, noisy(law, inputs, TRUTH[law], np.random.default_rng(seed), sigma)


@pytest.mark.parametrize("name", ["lr_annealing", "multi_power"])
@pytest.mark.parametrize("kind", ["cosine", "wsd", "step"])
@pytest.mark.parametrize("per_point", [False, True])
def test_gradients_match_finite_differences(name: str, kind: str, per_point: bool) -> None:
    law = get_law(name)
    inputs = curve(kind, every=97.0)
    derived = {k: v[None] for k, v in law.derive(inputs, inputs["x"] > 0).items()}  # (1, m[, K])
    m = derived["x"].shape[1]
    rng = np.random.default_rng(3)
    # parameters away from the truth, as (2, 1) columns or (2, m) per point (joint fits)
    shape = (2, m) if per_point else (2, 1)
    internal = {p.name: p.to_internal(TRUTH[name][p.name]) + 0.1 * rng.standard_normal(shape) for p in law.params}

    def natural(u: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {p.name: p.to_natural(u[p.name]) for p in law.params}

    assert law.log_model_grad is not None
    log_f, grads = law.log_model_grad(derived, natural(internal))
    np.testing.assert_allclose(log_f, law.log_model(derived, natural(internal)), rtol=1e-14)
    for p in law.params:
        h = 1e-6
        up, down = dict(internal), dict(internal)
        up[p.name], down[p.name] = internal[p.name] + h, internal[p.name] - h
        numeric = (law.log_model(derived, natural(up)) - law.log_model(derived, natural(down))) / (2 * h)
        exact = np.broadcast_to(grads[p.name], numeric.shape)
        scale = np.abs(numeric).max() + 1e-12
        assert np.abs(exact - numeric).max() <= 1e-6 * scale, p.name


@pytest.mark.parametrize("kind", ["cosine", "wsd", "step"])
def test_lr_annealing_recovers_its_parameters_under_each_schedule(kind: str) -> None:
    for seed, sigma in ((0, 0.005), (1, 0.01)):
        fit = fit_curve(*synthetic("lr_annealing", kind, seed, sigma, every=30.0), "lr_annealing")
        assert fit.status is FitStatus.CONVERGED, fit.message
        tolerance = {"L0": 0.02, "A": 0.06, "alpha": 0.04, "C": 0.15}
        for key, value in ANNEALING.items():
            assert fit.params[key] == pytest.approx(value, rel=tolerance[key] * sigma / 0.005), (kind, seed, key)


@pytest.mark.parametrize("kind", ["cosine", "wsd", "step"])
def test_multi_power_recovers_its_power_law_and_its_curve_under_each_schedule(kind: str) -> None:
    """One curve at 0.5 % noise determines L0, A and alpha, and the curve itself; the shape of the
    loss drop (C, beta, gamma, and with them B) needs several schedules (below)."""
    inputs, loss = synthetic("multi_power", kind, seed=3)
    fit = fit_curve(inputs, loss, "multi_power")
    for key in ("L0", "A", "alpha"):
        assert fit.params[key] == pytest.approx(MULTI_POWER[key], rel=0.01), key
    law = get_law("multi_power")
    clean = law.evaluate(inputs, MULTI_POWER)
    assert np.abs(law.evaluate(inputs, fit.params) / clean - 1).max() < 0.005  # the noise is 0.5 % a point


def test_multi_power_recovers_its_drop_from_three_schedules_fitted_together() -> None:
    law = get_law("multi_power")
    rng = np.random.default_rng(1)
    curves = []
    for kind in ("cosine", "wsd", "step"):
        inputs = curve(kind)
        curves.append((inputs, noisy("multi_power", inputs, MULTI_POWER, rng, 0.005)))
    fit = fit_joint(curves, "multi_power", shared=law.param_names)[0]
    assert fit.status is FitStatus.CONVERGED, fit.message
    tolerance = {"L0": 0.01, "A": 0.02, "alpha": 0.02, "B": 0.05, "beta": 0.3}
    for key, rel in tolerance.items():
        assert fit.params[key] == pytest.approx(MULTI_POWER[key], rel=rel), key

    # C and gamma trade along a valley (C eta^-gamma); the drop's time scale at the rates seen,
    # 1 / (C eta^(1 - gamma)) steps, is what the curves pin down
    def steps_to_realise(p: dict[str, float]) -> float:
        return 1.0 / (p["C"] * (0.3 * PEAK_LR) ** (1.0 - p["gamma"]))

    assert steps_to_realise(dict(fit.params)) == pytest.approx(steps_to_realise(MULTI_POWER), rel=0.5)


def test_multi_power_fitted_on_constant_and_cosine_predicts_a_wsd_run() -> None:
    """Over three noise draws (0.5 %), mean errors 0.01-0.44 %; the worst point, in the WSD decay,
    0.08-3 %: two smooth schedules leave the drop's shape loosely determined."""
    law = get_law("multi_power")
    wsd = curve("wsd", every=30.0)
    truth = law.evaluate(wsd, MULTI_POWER)
    worst = []
    for seed in range(5, 8):
        rng = np.random.default_rng(seed)
        curves = []
        for kind in ("constant", "cosine"):
            inputs = curve(kind, every=30.0)
            curves.append((inputs, noisy("multi_power", inputs, MULTI_POWER, rng, 0.005)))
        fit = fit_joint(curves, "multi_power", shared=law.param_names)[0]
        error = np.abs(predict(fit, wsd["x"], lr=wsd["lr"]).loss / truth - 1)
        assert error.mean() < 0.005, seed
        worst.append(error.max())
    assert np.median(worst) < 0.005


def test_the_schedule_is_summarised_over_the_whole_curve_before_the_range() -> None:
    """x_min/x_max select points on x, but S1 and S2 still count every step from the first."""
    inputs, loss = synthetic("lr_annealing", "step", seed=4)
    data = prepare_curve(inputs, loss, get_law("lr_annealing"), x_min=1000.0, x_max=11_000.0)
    inside = (inputs["x"] >= 1000) & (inputs["x"] <= 11_000)
    rates = step_rates(inputs["x"], inputs["lr"])
    np.testing.assert_array_equal(data.inputs["S1"], forward_area(rates, inputs["x"])[inside])
    np.testing.assert_array_equal(data.inputs["S2"], annealing_area(rates, inputs["x"])[inside])
    fit = fit_curve(inputs, loss, "lr_annealing", x_min=1000.0, x_max=11_000.0)
    assert fit.x_range == (1000.0, 11_000.0) and fit.n_points == int(inside.sum())
    assert fit.params["alpha"] == pytest.approx(ANNEALING["alpha"], rel=0.05)
    # the same points cut out of the curve lose the steps before 1000: a different, wrong fit
    alone = fit_curve({k: v[inside] for k, v in inputs.items()}, loss[inside], "lr_annealing")
    assert abs(alone.params["alpha"] / ANNEALING["alpha"] - 1) > 0.3


def test_rows_without_a_loss_carry_the_schedule_only() -> None:
    """Per-step lr with the loss every 100 steps: the fit sees the schedule between the points."""
    x = np.arange(0.0, TOTAL + 1)
    lr = schedule("step", x, TOTAL)
    law = get_law("multi_power")
    measured = x % 100 == 0
    loss = np.where(measured, law.evaluate({"x": x, "lr": lr}, MULTI_POWER), np.nan)  # inf at step 0: left out
    loss[0] = np.nan
    fit = fit_curve({"x": x, "lr": lr}, loss, "multi_power")
    assert fit.n_points == int(measured.sum()) - 1
    assert fit.params["B"] == pytest.approx(MULTI_POWER["B"], rel=1e-3)
    assert fit.params["L0"] == pytest.approx(MULTI_POWER["L0"], rel=1e-4)


@pytest.mark.parametrize("name", ["lr_annealing", "multi_power"])
def test_batches_of_curves_with_different_lengths_and_bins_fit_as_alone(name: str) -> None:
    curves = [synthetic(name, "step", 6, every=60.0), synthetic(name, "cosine", 7, every=25.0)]
    batch = fit_batch(curves, name)
    for (inputs, loss), fit in zip(curves, batch, strict=True):
        alone = fit_curve(inputs, loss, name)
        assert fit.r2 == pytest.approx(alone.r2, abs=1e-4)
        assert fit.n_points == alone.n_points


def test_bootstrap_samples_give_a_band_that_contains_the_truth() -> None:
    inputs, loss = synthetic("lr_annealing", "wsd", seed=8, every=60.0)
    fit = fit_curve(inputs, loss, "lr_annealing", bootstrap=60, seed=1)
    assert fit.samples is not None and fit.samples.shape == (60, 4)
    band = predict(fit, inputs["x"], lr=inputs["lr"])
    assert band.has_band and np.all(band.low <= band.loss) and np.all(band.loss <= band.high)
    truth = get_law("lr_annealing").evaluate(inputs, ANNEALING)
    assert ((band.low <= truth) & (truth <= band.high)).mean() > 0.8


@pytest.mark.parametrize("name", ["lr_annealing", "multi_power"])
def test_bad_schedules_are_refused_by_field(name: str) -> None:
    inputs, loss = synthetic(name, "cosine", seed=0, every=100.0)
    with pytest.raises(InvalidInputError) as err:
        fit_curve({"x": inputs["x"]}, loss, name)
    assert err.value.field == "lr"
    for bad, index in ((-1e-4, 5), (np.nan, 7)):
        lr = inputs["lr"].copy()
        lr[index] = bad
        with pytest.raises(InvalidInputError) as err:
            fit_curve({"x": inputs["x"], "lr": lr}, loss, name)
        assert (err.value.field, err.value.index) == ("lr", index)
    lr = inputs["lr"].copy()
    lr[3] = -1.0
    with pytest.raises(InvalidInputError) as err:
        fit_batch([(inputs, loss), ({"x": inputs["x"], "lr": lr}, loss)], name)
    assert (err.value.field, err.value.index) == ("curves[1].lr", 3)
    with pytest.raises(InvalidInputError) as err:
        fit_curve(inputs["x"], loss, name)
    assert err.value.field == "x"
    x = inputs["x"].copy()
    x[4] = x[3]
    with pytest.raises(InvalidInputError) as err:
        fit_curve({"x": x, "lr": inputs["lr"]}, loss, name)
    assert (err.value.field, err.value.index) == ("x", 4)


def test_a_schedule_without_learning_before_a_point_is_refused() -> None:
    x = np.arange(1.0, 101)
    lr = np.where(x < 20, 0.0, 1e-3)
    law = get_law("lr_annealing")
    loss = np.where(x < 20, 10.0, law.evaluate({"x": np.maximum(x - 19, 1), "lr": np.full(100, 1e-3)}, ANNEALING))
    with pytest.raises(InvalidInputError) as err:
        fit_curve({"x": x, "lr": lr}, loss, "lr_annealing")
    assert (err.value.field, err.value.index) == ("lr", 0)
    assert fit_curve({"x": x, "lr": lr}, loss, "lr_annealing", x_min=30).n_points == 71
