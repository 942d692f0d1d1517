"""A log that starts at step 0: without an x_min the fits leave x <= 0 out and say so; with one,
the range is the caller's and x <= 0 inside it is refused as before."""

from __future__ import annotations

import numpy as np
import pytest

import fitting
from fitting import get_law
from fitting.errors import InvalidInputError

TRUE = {"L0": 0.05, "B": 3.16e8, "beta": 0.12}


def from_step_zero(params: dict[str, float] = TRUE, n: int = 800) -> tuple[np.ndarray, np.ndarray]:
    steps = np.arange(0.0, n)
    loss = np.empty(n)
    loss[0] = 9.0  # the loss before training, as a log writes it at step 0
    loss[1:] = get_law("step_power").evaluate(steps[1:], params)
    return steps, loss


@pytest.mark.parametrize("method", ["robust", "paper"])
def test_a_curve_from_step_zero_fits_and_the_result_says_what_was_left_out(method: str) -> None:
    steps, loss = from_step_zero()
    fit = fitting.fit_curve(steps, loss, method=method)
    if method == "robust":  # the paper's procedure then chooses its own warm-up t0 among the rest
        assert fit.n_points == steps.size - 1 and fit.x_range[0] == 1.0
    assert "1 point at x <= 0 left out" in fit.message and fit.extra["left_out"] == 1
    assert fit.params["beta"] == pytest.approx(TRUE["beta"], rel=0.02)


def test_batch_joint_and_comparison_leave_step_zero_out_per_curve() -> None:
    base, cand = from_step_zero(), from_step_zero({"L0": 0.05, "B": 1.99e7, "beta": 0.14})
    plain = (base[0][1:], base[1][1:])  # the same curve without its step 0
    fits = fitting.fit_batch([base, plain])
    assert [f.extra.get("left_out", 0) for f in fits] == [1, 0] and "left out" not in fits[1].message
    joint = fitting.fit_joint([base, cand], shared=("L0",))
    assert all(f.extra["left_out"] == 1 for f in joint)
    result = fitting.compare_curves(base, [cand], horizons=[700.0], bootstrap=0)
    assert result.candidates[0].accelerations[0].ar_measured.value > 1


def test_an_explicit_x_min_that_takes_in_step_zero_is_refused() -> None:
    steps, loss = from_step_zero()
    with pytest.raises(InvalidInputError, match="must be > 0") as err:
        fitting.fit_curve(steps, loss, x_min=0.0)
    assert err.value.field == "x" and err.value.index == 0
    assert fitting.fit_curve(steps, loss, x_min=10.0).extra.get("left_out", 0) == 0  # the range alone decides
