"""Backtests (fitting/backtest.py): the law that made a curve predicts its tail best, its band holds
about 95 % of white-noise points, and on real logs step_power predicts a constant learning rate's
tail but not a schedule's decay."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fitting import BacktestCurve, FitOptions, InvalidInputError, Law, Param, backtest, get_law
from fitting.law_types import Arrays

SCHEDULES = Path(__file__).parents[1] / "data" / "schedules"
TRUE = {"L0": 2.0, "B": 1e4, "beta": 0.5}


def synthetic(seed: int, n: int = 300, sigma: float = 0.01) -> BacktestCurve:
    """step_power at evenly spaced steps, as logs record them, with white log-noise."""
    rng = np.random.default_rng(seed)
    x = np.linspace(100, 20_000, n)
    loss = get_law("step_power").evaluate(x, TRUE) * np.exp(sigma * rng.standard_normal(n))
    return BacktestCurve(f"synthetic-{seed}", x, loss)


def schedule(name: str) -> BacktestCurve:
    table = pd.read_csv(SCHEDULES / f"multipowerlaw_400m_{name}.csv")
    return BacktestCurve(
        name, table["step"].to_numpy(float), table["loss"].to_numpy(float), {"lr": table["lr"].to_numpy(float)}
    )


def test_the_law_that_made_the_curve_beats_a_wrong_one() -> None:
    result = backtest([synthetic(0)], ["power", "step_power"], [0.5, 0.8])
    assert [r.train_fraction for r in result.rows] == [0.5, 0.5, 0.8, 0.8]
    for fraction in (0.5, 0.8):
        first, second = [r for r in result.rows if r.train_fraction == fraction]
        assert (first.law, first.rank, second.rank) == ("step_power", 1, 2)
        assert first.mean_error < 0.015 < 0.03 < second.mean_error
        assert first.worst_error >= first.mean_error and abs(first.final_error) <= first.worst_error
        assert math.isnan(first.coverage)  # no bootstrap: no band
    half = result.rows[0]
    assert half.n_train + half.n_held_out == 300 and half.n_train == 150  # half of the x range, evenly spaced


def test_the_true_laws_band_holds_about_95_percent_of_white_noise_points() -> None:
    coverage = [
        backtest([synthetic(seed)], ["step_power"], [0.5], options=FitOptions(bootstrap=100, seed=seed))
        .rows[0]
        .coverage
        for seed in range(10)
    ]
    # 10 curves x 150 held-out points; a band of the parameters alone (no noise) covers about a third
    assert 0.9 <= float(np.mean(coverage)) <= 0.985, coverage


def test_step_power_predicts_a_constant_rates_tail_and_misses_a_decay() -> None:
    constant = backtest([schedule("constant_72000")], ["step_power"], [0.5]).rows[0]
    assert constant.status == "converged" and constant.n_held_out == 273
    assert constant.worst_error < 0.005  # 36k steps ahead within 0.5 %
    # fitted before the decay (steps 20000-24000), the law cannot know the loss falls faster there
    decay = backtest([schedule("wsd_20000_24000")], ["step_power"], [0.8]).rows[0]
    assert decay.final_error > 0.025 and decay.worst_error > 5 * constant.worst_error


def test_a_pair_fits_one_curve_and_predicts_another_whole() -> None:
    constant, wsd = schedule("constant_24000"), schedule("wsd_20000_24000")
    (row,) = backtest(laws=["step_power"], pairs=[(constant, wsd)], options=FitOptions(bootstrap=30)).rows
    assert (row.fit_on, row.predict_on, row.n_train, row.n_held_out) == ("constant_24000", "wsd_20000_24000", 171, 171)
    assert math.isnan(row.train_fraction) and row.n_bootstrap == 30 and 0 <= row.coverage <= 1
    assert row.final_error > 0.02  # the constant run's law knows nothing of the decay


def _area_law() -> Law:
    """L = L0 + A * S1^-alpha with S1 the learning rate summed over the curve's points so far (a
    schedule law's forward area, for points logged every 128 steps): evaluated on the held-out
    points alone, S1 would restart near 0."""

    def log_model(inputs: Arrays, p: Arrays) -> np.ndarray:
        area = np.cumsum(inputs["lr"], axis=-1) * 128 / 3e-4
        return np.log(p["L0"] + p["A"] * area ** -p["alpha"])

    def guess(inputs: Arrays, loss: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.tile([2.0, 10.0, 0.3], (1, loss.shape[0], 1))

    params = (Param("L0", 1e-3, 10.0), Param("A", 1e-3, 1e4, log_scale=True), Param("alpha", 1e-3, 3.0))
    return Law("area_power", "L0 + A * S1^-alpha", ("x", "lr"), params, log_model, guess)


def test_a_law_takes_its_inputs_from_the_curves_columns_over_the_whole_curve() -> None:
    curve = schedule("constant_24000")
    (row,) = backtest([curve], [_area_law()], [0.5]).rows
    assert row.law == "area_power" and row.status != "failed" and row.worst_error < 0.02  # restarted: 10 %
    with pytest.raises(InvalidInputError, match="'lr'") as err:
        backtest([BacktestCurve("plain", curve.x, curve.loss)], [_area_law()], [0.5])
    assert err.value.field == "laws"


def test_too_little_to_fit_is_a_failed_row_not_an_error() -> None:
    short = BacktestCurve("short", np.array([1.0, 2, 3, 4, 5, 6]), np.array([5.0, 4, 3.5, 3.2, 3.1, 3.0]))
    (row,) = backtest([short], ["step_power"], [0.3]).rows
    assert row.status == "failed" and row.rank == 0 and math.isnan(row.mean_error) and row.message


@pytest.mark.parametrize(
    ("kwargs", "field", "index"),
    [
        ({"train_fractions": [0.5, 1.0]}, "train_fractions", 1),
        ({"train_fractions": []}, "train_fractions", None),
        ({"laws": ["step_power", "no_such_law("]}, "laws", 1),
        ({"laws": []}, "laws", None),
    ],
)
def test_bad_input_names_its_field(kwargs: dict[str, object], field: str, index: int | None) -> None:
    with pytest.raises(InvalidInputError) as err:
        backtest([synthetic(0)], **kwargs)  # type: ignore[arg-type]
    assert (err.value.field, err.value.index) == (field, index)
