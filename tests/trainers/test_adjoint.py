"""The policy gradient is exact: adjoint == autograd through the unrolled loop == finite differences."""

from __future__ import annotations

import pytest
import torch

from trainers.adjoint import MODES, available_modes, policy_gradient, weighted_hvp_and_jvp
from trainers.reference import unrolled_policy_gradient
from trainers.tasks.base import Task

from .conftest import random_policy

ETA = 0.1
STEPS = 9


@pytest.mark.parametrize("mode", MODES)
def test_adjoint_equals_autograd_through_the_unrolled_loop(task: Task, mode: str) -> None:
    if mode not in available_modes(task):
        pytest.skip(f"{task.name} cannot run the {mode} adjoint")
    gamma = random_policy(task, STEPS)
    ours = policy_gradient(task, gamma, ETA, mode=mode)
    total, reference = unrolled_policy_gradient(task, gamma, ETA)
    assert pytest.approx(total, rel=1e-12) == ours.J
    rel = (ours.grad - reference).abs().max() / reference.abs().max()
    assert rel < 1e-12  # as the README says; measured: a few 1e-16 in float64


def test_adjoint_equals_finite_differences(task: Task) -> None:
    gamma = random_policy(task, STEPS, seed=1)
    ours = policy_gradient(task, gamma, ETA)
    direction = torch.randn(gamma.shape, generator=torch.Generator().manual_seed(2), dtype=gamma.dtype)
    direction -= direction.mean(dim=1, keepdim=True)  # stay on the simplex's plane
    h = 1e-6
    plus = policy_gradient(task, gamma + h * direction, ETA).J
    minus = policy_gradient(task, gamma - h * direction, ETA).J
    numeric = (plus - minus) / (2 * h)
    assert float((ours.grad * direction).sum()) == pytest.approx(numeric, rel=1e-6)


@pytest.mark.parametrize("every", [1, 2, 4, 100])
def test_checkpointing_does_not_change_the_gradient(every: int) -> None:
    from .conftest import tiny_perceptron

    task = tiny_perceptron()
    gamma = random_policy(task, 16, seed=4)
    full = policy_gradient(task, gamma, ETA, checkpoint_every=1, mode="closed")
    ours = policy_gradient(task, gamma, ETA, checkpoint_every=every, mode="closed")
    torch.testing.assert_close(ours.grad, full.grad, rtol=1e-12, atol=1e-15)


def test_snapshots_held_grow_as_sqrt_t() -> None:
    from .conftest import tiny_perceptron

    task = tiny_perceptron()
    held = {}
    for steps in (16, 64, 256):
        held[steps] = policy_gradient(task, random_policy(task, steps), ETA, mode="closed").snapshots_held
    # k = sqrt(T): T/k snapshots + k recomputed parameters = 2 sqrt(T) (+1)
    assert held[16] <= 2 * 4 + 1 and held[64] <= 2 * 8 + 1 and held[256] <= 2 * 16 + 1
    stored_all = policy_gradient(task, random_policy(task, 64), ETA, checkpoint_every=1, mode="closed").snapshots_held
    assert stored_all >= 64


def test_reverse_and_forward_products_agree(task: Task) -> None:
    theta = task.theta0 + 0.01
    weights = random_policy(task, 1)[0]
    tangent = torch.randn(theta.shape, generator=torch.Generator().manual_seed(5), dtype=theta.dtype)
    h_rev, d_rev = weighted_hvp_and_jvp(task, theta, weights, tangent, "reverse")
    h_fwd, d_fwd = weighted_hvp_and_jvp(task, theta, weights, tangent, "forward")
    torch.testing.assert_close(h_rev, h_fwd, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(d_rev, d_fwd, rtol=1e-9, atol=1e-12)
    if task.closed_form is not None:
        h_closed, d_closed = weighted_hvp_and_jvp(task, theta, weights, tangent, "closed")
        torch.testing.assert_close(h_closed, h_rev, rtol=1e-12, atol=1e-15)
        torch.testing.assert_close(d_closed, d_rev, rtol=1e-12, atol=1e-15)


def test_closed_form_gradients_equal_autograd() -> None:
    from dataclasses import replace

    from .conftest import tiny_perceptron

    task = tiny_perceptron()
    plain = replace(task, closed_form=None)  # the same task, products by autograd
    theta, weights = task.theta0 + 0.3, random_policy(task, 1, seed=7)[0]
    closed_grads, autograd = task.gradients, plain.gradients
    for a, b in zip(closed_grads.weighted_grad(theta, weights), autograd.weighted_grad(theta, weights), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)
    for split in (task.desired, task.test):
        torch.testing.assert_close(
            closed_grads.mean_grad(theta, split), autograd.mean_grad(theta, split), rtol=1e-12, atol=1e-15
        )
    tangent = torch.randn(theta.shape, generator=torch.Generator().manual_seed(9), dtype=theta.dtype)
    torch.testing.assert_close(
        closed_grads.directional(theta, tangent), autograd.directional(theta, tangent), rtol=1e-12, atol=1e-15
    )
    closed = policy_gradient(task, random_policy(task, STEPS, seed=8), ETA, mode="closed")
    reverse = policy_gradient(plain, random_policy(task, STEPS, seed=8), ETA, mode="reverse")
    torch.testing.assert_close(closed.grad, reverse.grad, rtol=1e-12, atol=1e-15)


def test_fused_logistic_adjoint_equals_the_step_by_step_one_under_a_schedule() -> None:
    from .conftest import tiny_perceptron

    task = tiny_perceptron()
    gamma = random_policy(task, 40, seed=11)
    rates = [ETA * (1 - t / 50) for t in range(40)]
    fused = policy_gradient(task, gamma, rates, mode="fused")
    closed = policy_gradient(task, gamma, rates, mode="closed")
    torch.testing.assert_close(fused.grad, closed.grad, rtol=1e-12, atol=1e-15)
    for a, b in ((fused.desired, closed.desired), (fused.holdout, closed.holdout), (fused.test, closed.test)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15, equal_nan=True)
    assert pytest.approx(closed.J, rel=1e-13) == fused.J
