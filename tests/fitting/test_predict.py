"""fitting.predict: a fitted law at other steps or under another schedule, with its band."""

from __future__ import annotations

import numpy as np
import pytest

from fitting import FitStatus, InvalidInputError, fit_curve, get_law, predict

from .conftest import RECOVERY_CASES, noisy, schedule, step_power_curve


def test_a_law_of_x_predicts_past_its_data_with_a_band_from_its_resamples() -> None:
    x, loss = step_power_curve(np.random.default_rng(0), sigma=0.01)
    fit = fit_curve(x, loss, "step_power", bootstrap=100, seed=2)
    ahead = np.geomspace(1e5, 1e6, 20)
    result = predict(fit, ahead)
    np.testing.assert_allclose(result.loss, get_law("step_power").evaluate(ahead, fit.params), rtol=1e-12)
    assert result.has_band
    assert np.all(result.low <= result.loss) and np.all(result.loss <= result.high)
    truth = get_law("step_power").evaluate(ahead, {"L0": 1.2, "B": 3e6, "beta": 0.3})
    assert np.all((result.low <= truth) & (truth <= result.high))


def test_without_resamples_the_band_is_not_available() -> None:
    x, loss = step_power_curve(np.random.default_rng(1))
    result = predict(fit_curve(x, loss), x)
    assert not result.has_band and np.isnan(result.low).all() and np.isnan(result.high).all()


def test_a_schedule_law_predicts_another_schedule_from_its_own_steps() -> None:
    truth = RECOVERY_CASES["lr_annealing"][0]
    x = np.arange(10.0, 12_001, 10)
    cosine = {"x": x, "lr": schedule("cosine", x, 12_000.0)}
    fit = fit_curve(cosine, noisy("lr_annealing", cosine, truth, np.random.default_rng(2), 0.005), "lr_annealing")
    assert fit.status is FitStatus.CONVERGED
    longer = np.arange(10.0, 24_001, 10)
    wsd = schedule("wsd", longer, 24_000.0)
    result = predict(fit, longer, lr=wsd)
    expected = get_law("lr_annealing").evaluate({"x": longer, "lr": wsd}, truth)
    assert np.abs(result.loss / expected - 1).max() < 0.005
    # a row at step 0 starts the schedule (a warmup from lr 0) and predicts nothing itself
    warm = predict(fit, np.r_[0.0, longer], lr=np.r_[0.0, wsd])
    assert np.isnan(warm.loss[0]) and np.all(np.isfinite(warm.loss[1:]))
    # the prediction reads the schedule it is given, not the one fitted
    assert np.abs(result.loss[-1] - predict(fit, longer, lr=schedule("constant", longer, 24_000.0)).loss[-1]) > 0.05


def test_a_multi_input_law_takes_a_mapping() -> None:
    truth = RECOVERY_CASES["chinchilla"][0]
    rng = np.random.default_rng(3)
    inputs = {"N": 10 ** rng.uniform(7, 11, 300), "D": 10 ** rng.uniform(9, 12, 300)}
    fit = fit_curve(inputs, noisy("chinchilla", inputs, truth, rng, 0.005), "chinchilla")
    at = {"N": np.array([1e9, 1e10]), "D": np.array([2e10, 2e11])}
    np.testing.assert_allclose(predict(fit, at).loss, get_law("chinchilla").evaluate(at, fit.params), rtol=1e-12)


def test_bad_requests_name_their_field() -> None:
    x = np.arange(10.0, 3001, 10)
    inputs = {"x": x, "lr": schedule("cosine", x, 3000.0)}
    truth = RECOVERY_CASES["lr_annealing"][0]
    fit = fit_curve(inputs, noisy("lr_annealing", inputs, truth, np.random.default_rng(4), 0.005), "lr_annealing")
    cases = [
        ((x,), {}, "lr", None),  # a schedule law needs lr
        ((x,), {"lr": inputs["lr"][:-1]}, "lr", None),
        ((x,), {"lr": np.where(x == 50, np.nan, inputs["lr"])}, "lr", 4),
        ((x,), {"lr": np.where(x == 50, -1.0, inputs["lr"])}, "lr", 4),
        ((x[::-1],), {"lr": inputs["lr"]}, "x", 1),
        ((np.array([]),), {}, "x", None),
        ((np.array([0.0]),), {"lr": np.ones(1)}, "x", None),  # no step of training at all
    ]
    for args, kwargs, field, index in cases:
        with pytest.raises(InvalidInputError) as err:
            predict(fit, *args, **kwargs)
        assert (err.value.field, err.value.index) == (field, index), (args, kwargs)
    flat = fit_curve(np.arange(1.0, 20), np.full(19, 2.0))  # a constant curve: no parameters
    with pytest.raises(InvalidInputError) as err:
        predict(flat, np.array([1.0, 2.0]))
    assert err.value.field == "fit"
    of_x = fit_curve(x, 2.0 + 100 / x)
    with pytest.raises(InvalidInputError) as err:
        predict(of_x, {"N": x})
    assert err.value.field == "x"
    with pytest.raises(InvalidInputError) as err:
        predict(of_x, np.array([0.0, 1.0]))
    assert (err.value.field, err.value.index) == ("x", 0)
