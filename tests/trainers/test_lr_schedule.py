"""The inner run under a learning-rate schedule: the schedules' shapes, a constant schedule equal to
a plain eta bit for bit, the policy gradient under a schedule still exact (adjoint == autograd),
and a run's curves under two schedules predicted across by a schedule-aware law."""

from __future__ import annotations

import numpy as np
import pytest

import fitting
from fitting.errors import InvalidInputError
from trainers.adjoint import MODES, available_modes, policy_gradient
from trainers.config import RunSpec
from trainers.gd import train
from trainers.reference import unrolled_policy_gradient
from trainers.schedule import SCHEDULES, lr_schedule
from trainers.tasks.base import Task

from .conftest import random_policy, tiny_perceptron


def test_the_schedules_have_their_shapes() -> None:
    steps = 1000
    constant, cosine, wsd, step = (lr_schedule(name, 0.1, steps) for name in SCHEDULES)
    assert np.all(constant == 0.1) and cosine[0] == pytest.approx(0.1) and cosine[-1] == pytest.approx(0.01, rel=0.01)
    assert np.all(np.diff(cosine) < 0)
    assert np.all(wsd[:800] == 0.1) and wsd[-1] == pytest.approx(0.01, rel=0.05)
    assert set(np.round(step / 0.1, 6)) == {1.0, 0.1, 0.01} and step[499] == 0.1 and step[500] == pytest.approx(0.01)
    with pytest.raises(InvalidInputError, match="lr_schedule"):
        RunSpec(lr_schedule="linear").validate()


def test_a_constant_schedule_is_plain_gd_bit_for_bit() -> None:
    task = tiny_perceptron()
    plain = train(task, 30, 0.1)
    scheduled = train(task, 30, lr_schedule("constant", 0.1, 30))
    assert np.array_equal(plain.test, scheduled.test)
    decayed = train(task, 30, lr_schedule("cosine", 0.1, 30))
    assert not np.array_equal(plain.test, decayed.test)


@pytest.mark.parametrize("mode", MODES)
def test_the_policy_gradient_under_a_schedule_equals_autograd(task: Task, mode: str) -> None:
    if mode not in available_modes(task):
        pytest.skip(f"{task.name} cannot run the {mode} adjoint")
    gamma = random_policy(task, 9)
    rates = lr_schedule("step", 0.1, 9)
    ours = policy_gradient(task, gamma, rates, mode=mode)
    total, reference = unrolled_policy_gradient(task, gamma, rates)
    assert pytest.approx(total, rel=1e-12) == ours.J
    assert float((ours.grad - reference).abs().max() / reference.abs().max()) < 1e-12


def test_a_law_fitted_under_one_schedule_predicts_another() -> None:
    """The perceptron's test loss trained with a cosine and with a WSD schedule (600 steps):
    lr_annealing fitted on the cosine run predicts the WSD run (measured: mean error 0.39 %, worst
    1.2 %) better than a step_power law of the steps, blind to the schedule (0.91 %, worst 2.0 %)."""
    task = tiny_perceptron(dim=20, train_size=256, desired_size=64, test_size=256)
    steps = 600
    runs = {}
    for name in ("cosine", "wsd"):
        rates = lr_schedule(name, 2.0, steps)
        curve = train(task, steps, rates).test
        runs[name] = (np.arange(1.0, steps + 1.0), curve[1:], rates)
    x, cosine, rates = runs["cosine"]
    fit = fitting.fit_curve({"x": x, "lr": rates}, cosine, "lr_annealing", x_min=30)
    x_w, wsd, rates_w = runs["wsd"]
    predicted = fitting.predict(fit, x_w, lr=rates_w).loss
    error = np.abs(predicted[30:] / wsd[30:] - 1)
    blind = fitting.fit_curve(x, cosine, x_min=30)
    blind_error = np.abs(fitting.predict(blind, x_w).loss[30:] / wsd[30:] - 1)
    assert error.mean() < 0.01 and error.mean() < blind_error.mean(), (error.mean(), blind_error.mean())
