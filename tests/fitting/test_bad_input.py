"""Every bad input is a clear error naming the field and the first bad index."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fitting import (
    FitImpossibleError,
    FitStatus,
    InvalidInputError,
    UnknownLawError,
    fit_batch,
    fit_curve,
    fit_joint,
)

X = np.arange(1.0, 11.0)
LOSS = 1.0 + 2.0 / X


def check(err: pytest.ExceptionInfo[InvalidInputError], field: str, index: int | None = None) -> None:
    assert err.value.field == field
    assert err.value.index == index
    assert field in str(err.value)


def test_empty_curve() -> None:
    with pytest.raises(InvalidInputError, match="empty") as err:
        fit_curve([], [])
    check(err, "loss")


def test_length_mismatch() -> None:
    with pytest.raises(InvalidInputError, match="10 points but loss has 9") as err:
        fit_curve(X, LOSS[:-1])
    check(err, "x")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_loss_names_first_index(bad: float) -> None:
    loss = LOSS.copy()
    loss[[4, 7]] = bad
    with pytest.raises(InvalidInputError, match="finite") as err:
        fit_curve(X, loss)
    check(err, "loss", 4)


def test_non_finite_x() -> None:
    x = X.copy()
    x[3] = math.nan
    with pytest.raises(InvalidInputError) as err:
        fit_curve(x, LOSS)
    check(err, "x", 3)


def test_x_not_strictly_increasing() -> None:
    x = X.copy()
    x[6] = x[5]
    with pytest.raises(InvalidInputError, match="strictly increasing") as err:
        fit_curve(x, LOSS)
    check(err, "x", 6)


def test_x_not_positive_inside_an_explicit_range() -> None:
    # without x_min such points are left out and said so (tests/fitting/test_step_zero.py)
    x = X - 2.0
    with pytest.raises(InvalidInputError, match="> 0") as err:
        fit_curve(x, LOSS, x_min=-5.0)
    check(err, "x", 0)


def test_loss_not_positive_where_the_law_takes_logs() -> None:
    loss = LOSS.copy()
    loss[2] = 0.0
    with pytest.raises(InvalidInputError, match="log") as err:
        fit_curve(X, loss)
    check(err, "loss", 2)


def test_fewer_points_than_parameters_plus_one() -> None:
    with pytest.raises(FitImpossibleError, match="needs at least 4") as err:
        fit_curve(X[:3], LOSS[:3])
    assert err.value.field == "loss"


def test_too_few_points_left_in_range() -> None:
    with pytest.raises(FitImpossibleError, match="2 points in range"):
        fit_curve(X, LOSS, x_min=9)


def test_fixed_parameters_lower_the_minimum() -> None:
    fit = fit_curve(X[:3], LOSS[:3], fixed={"L0": 1.0})
    assert fit.params["L0"] == 1.0


def test_constant_curve_is_unidentifiable_not_a_crash() -> None:
    fit = fit_curve(X, np.full(10, 2.5))
    assert fit.status is FitStatus.UNIDENTIFIABLE
    assert "constant" in fit.message
    assert math.isnan(fit.params["beta"])


def test_range_x_min_not_below_x_max() -> None:
    with pytest.raises(InvalidInputError, match="below") as err:
        fit_curve(X, LOSS, x_min=5, x_max=5)
    check(err, "x_min")


def test_unknown_law() -> None:
    with pytest.raises(UnknownLawError) as err:
        fit_curve(X, LOSS, "no_such_law")
    check(err, "law")


def test_missing_input_of_multi_input_law() -> None:
    with pytest.raises(InvalidInputError, match="missing input 'D'") as err:
        fit_curve({"N": X}, LOSS, "chinchilla")
    check(err, "x.D")


def test_multi_input_law_needs_a_mapping() -> None:
    with pytest.raises(InvalidInputError, match="mapping") as err:
        fit_curve(X, LOSS, "chinchilla")
    check(err, "x")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"loss_fn": "l3"}, "loss_fn"),
        ({"delta": 0.0}, "delta"),
        ({"bootstrap": -1}, "bootstrap"),
        ({"method": "magic"}, "method"),
        ({"fixed": {"gamma": 1.0}}, "fixed"),
        ({"fixed": {"beta": -1.0}}, "fixed.beta"),
    ],
)
def test_bad_options(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        fit_curve(X, LOSS, **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_batch_errors_name_the_curve() -> None:
    loss = LOSS.copy()
    loss[5] = math.nan
    with pytest.raises(InvalidInputError) as err:
        fit_batch([(X, LOSS), (X, loss)])
    check(err, "curves[1].loss", 5)


def test_joint_errors_name_the_curve_and_shared_parameter() -> None:
    with pytest.raises(InvalidInputError) as err:
        fit_joint([(X, LOSS), (X[::-1], LOSS)])
    check(err, "curves[1].x", 1)
    with pytest.raises(InvalidInputError) as err:
        fit_joint([(X, LOSS)], shared=("E",))
    assert err.value.field == "shared"
    with pytest.raises(InvalidInputError) as err:
        fit_joint([])
    assert err.value.field == "curves"


def test_paper_method_is_for_step_power_only() -> None:
    with pytest.raises(InvalidInputError) as err:
        fit_curve(X, LOSS, "power", method="paper")
    assert err.value.field == "method"
