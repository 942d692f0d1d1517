"""Training under a policy, projection, search, diagnostics, determinism."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from trainers.config import SearchConfig
from trainers.diagnostics import measure_learning_law
from trainers.gd import train, uniform_policy
from trainers.search import search_policy, step_policy, tie_gradient
from trainers.simplex import project_to_simplex
from trainers.tasks.base import Task

from .conftest import random_policy, tiny_lm, tiny_perceptron


def test_uniform_policy_is_plain_gradient_descent_bit_for_bit() -> None:
    task = tiny_perceptron()  # N = 32, a power of two: 1/N is exact
    ours = train(task, 20, 0.1)
    theta = task.theta0.clone()
    for _ in range(20):
        th = theta.detach().requires_grad_(True)
        loss = task.loss_fn(th, task.train.inputs, task.train.targets).mean()
        (g,) = torch.autograd.grad(loss, th)
        theta = theta - 0.1 * g
    assert torch.equal(ours.theta_final, theta)


def test_micro_batching_changes_memory_not_the_result() -> None:
    from dataclasses import replace

    task = tiny_lm()
    gamma = random_policy(task, 4)
    whole = train(replace(task, micro_batch=10_000), 4, 0.5, gamma)
    split = train(replace(task, micro_batch=7), 4, 0.5, gamma)
    torch.testing.assert_close(split.theta_final, whole.theta_final, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(split.test, whole.test, rtol=1e-10)


def test_tiny_transformer_loss_falls() -> None:
    task = tiny_lm(torch.float32)
    curves = train(task, 30, 0.5)
    assert curves.train[-1] < 0.85 * curves.train[0]
    assert curves.test[-1] < curves.test[0]


def test_same_seed_same_result() -> None:
    a = train(tiny_lm(torch.float32), 5, 0.5)
    b = train(tiny_lm(torch.float32), 5, 0.5)
    assert torch.equal(a.theta_final, b.theta_final)
    c = train(tiny_perceptron(), 5, 0.1)
    d = train(tiny_perceptron(), 5, 0.1)
    np.testing.assert_array_equal(c.test, d.test)


def test_projection_is_on_the_simplex_and_idempotent() -> None:
    v = torch.randn(50, 17, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    w = project_to_simplex(v)
    assert torch.all(w >= 0)
    torch.testing.assert_close(w.sum(dim=1), torch.ones(50, dtype=torch.float64))
    torch.testing.assert_close(project_to_simplex(w), w)


@pytest.mark.parametrize("seed", range(5))
def test_projection_equals_a_brute_force_qp(seed: int) -> None:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=6) * 2
    qp = minimize(
        lambda w: ((w - v) ** 2).sum(),
        np.full(6, 1 / 6),
        jac=lambda w: 2 * (w - v),
        bounds=[(0, None)] * 6,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 500},
    )
    ours = project_to_simplex(torch.tensor(v)[None])[0].numpy()
    np.testing.assert_allclose(ours, qp.x, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "normalized", "eg", "rowwise"])
def test_outer_steps_stay_on_the_simplex(optimizer: str) -> None:
    gamma = torch.full((3, 5), 0.2, dtype=torch.float64)
    grad = torch.randn(3, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = step_policy(gamma, grad, 0.5, optimizer)
    assert torch.all(out >= 0)
    torch.testing.assert_close(out.sum(dim=1), torch.ones(3, dtype=torch.float64))
    # a descent step lowers the weight of the example with the largest gradient
    lowered = out.gather(1, grad.argmax(dim=1, keepdim=True))[:, 0]
    torch.testing.assert_close(lowered, out.min(dim=1).values)


def test_rowwise_steps_move_every_row_alike_whatever_its_gradients_scale() -> None:
    gamma = torch.full((2, 64), 1 / 64, dtype=torch.float64)
    shape = torch.randn(64, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    grad = torch.stack([1e3 * shape, 1e-3 * shape])  # the first and last rows of a search differ 1e6-fold
    rowwise = step_policy(gamma, grad, 0.5, "rowwise")
    torch.testing.assert_close(rowwise[0], rowwise[1])  # the same change in both rows
    normalized = step_policy(gamma, grad, 0.5, "normalized")
    assert (normalized[1] - gamma[1]).abs().max() < 1e-4 * (normalized[0] - gamma[0]).abs().max()


def test_an_extended_search_optimises_past_t_and_reports_its_first_t_rows() -> None:
    task = tiny_perceptron()
    seen: list[tuple[int, tuple[int, ...]]] = []
    cfg = SearchConfig(outer_iters=2, outer_lr=0.5, optimizer="rowwise", holdout=0.0, extend_steps=5)
    result = search_policy(task, 12, 0.1, cfg, on_policy=lambda k, g, pg: seen.append((k, tuple(g.shape))))
    assert result.gamma.shape == (12, task.n_train)
    assert seen == [(k, (12, task.n_train)) for k in range(3)]
    # the areas it reports are over the first T steps, as a T-step run of the same rows gives
    kept = train(task, 12, 0.1, result.gamma)
    best = result.history[result.best_iteration]
    assert best.j_desired == pytest.approx(float(kept.desired[1:].sum()), rel=1e-10)
    assert best.j_test == pytest.approx(float(kept.test[1:].sum()), rel=1e-10)


@pytest.mark.parametrize("cos", [0.0, 0.3, -0.5])
def test_the_teacher_turned_to_a_given_angle_with_the_shift_balances_the_target_as_asked(cos: float) -> None:
    drawn = tiny_perceptron(dim=64, test_size=4000, label_noise=0.1)
    task = tiny_perceptron(dim=64, test_size=4000, label_noise=0.1, teacher_shift_cos=cos)
    # the same draws otherwise: inputs, which labels are flipped, the starting parameters
    assert torch.equal(task.train.inputs, drawn.train.inputs) and torch.equal(task.theta0, drawn.theta0)
    assert task.corrupted is not None and torch.equal(task.corrupted, drawn.corrupted)
    # target inputs z ~ N(0.5 * 1, I): the label is 1 when w . z > 0, so P(y = 1) = Phi(0.5 sqrt(D) cos)
    expected = 0.5 * (1 + math.erf(0.5 * math.sqrt(64) * cos / math.sqrt(2)))
    assert float(task.test.targets.mean()) == pytest.approx(expected, abs=0.03)


def test_tied_gradient_is_constant_on_spans() -> None:
    grad = torch.arange(12.0).reshape(6, 2)
    tied = tie_gradient(grad, 2)
    assert torch.equal(tied[0], tied[2]) and torch.equal(tied[3], tied[5])
    assert torch.equal(tie_gradient(grad, 0), grad)


def test_search_lowers_j_and_reports_every_iteration() -> None:
    task = tiny_perceptron()
    seen = []
    result = search_policy(task, 12, 0.1, SearchConfig(outer_iters=4, outer_lr=0.5, holdout=0.0), progress=seen.append)
    assert [r.iteration for r in seen] == [0, 1, 2, 3, 4]
    assert seen[-1].j_desired < seen[0].j_desired
    assert result.gamma.shape == (12, task.n_train)
    assert all(b.seconds >= a.seconds for a, b in itertools.pairwise(seen))


def test_search_selects_on_the_held_out_area() -> None:
    task = tiny_perceptron()
    result = search_policy(task, 12, 0.1, SearchConfig(outer_iters=3, outer_lr=5.0))
    best = min(result.history, key=lambda r: r.j_holdout)
    assert result.best_iteration == best.iteration


def test_directional_derivatives_equal_per_example_gradients(task: Task) -> None:
    theta = task.theta0 + 0.01
    tangent = torch.randn(theta.shape, generator=torch.Generator().manual_seed(2), dtype=theta.dtype)
    ours = task.gradients.directional(theta, tangent)
    for n in (0, task.n_train - 1):
        th = theta.detach().requires_grad_(True)
        part = task.train.chunk(slice(n, n + 1))
        (g,) = torch.autograd.grad(task.loss_fn(th, part.inputs, part.targets).sum(), th)
        assert float(ours[n]) == pytest.approx(float(g @ tangent), rel=1e-9, abs=1e-12)


def test_learning_law_diagnostics_on_uniform_policy() -> None:
    task = tiny_perceptron()
    law = measure_learning_law(task, uniform_policy(task, 10), 0.1, every=2)
    np.testing.assert_array_equal(law.steps, [0, 2, 4, 6, 8])
    assert np.isfinite(law.sim)
    assert law.zero_weight_fraction in (0.0,) or np.isnan(law.zero_weight_fraction)  # uniform: no zero weight


def test_weighted_grad_is_a_weighted_sum() -> None:
    task = tiny_perceptron()
    w = random_policy(task, 1)[0]
    g, losses = task.gradients.weighted_grad(task.theta0, w)
    th = task.theta0.detach().requires_grad_(True)
    (ref,) = torch.autograd.grad((w * task.loss_fn(th, task.train.inputs, task.train.targets)).sum(), th)
    torch.testing.assert_close(g, ref)
    assert losses.shape == (task.n_train,)


def test_diagnostics_on_a_hand_built_case() -> None:
    """Two training examples, one test example, theta = 0: CT is computable by hand."""
    from trainers.tasks.base import Split
    from trainers.tasks.perceptron import perceptron_loss

    def split(z: list[list[float]], y: list[float]) -> Split:
        return Split(torch.tensor(z, dtype=torch.float64), torch.tensor(y, dtype=torch.float64))

    train_set = split([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], [1.0, 0.0, 1.0])
    test_set = split([[2.0, 1.0]], [1.0])
    task = Task(
        name="hand",
        loss_fn=perceptron_loss,
        theta0=torch.zeros(2, dtype=torch.float64),
        train=train_set,
        desired=test_set,
        holdout=Split(torch.zeros(0, 2, dtype=torch.float64), torch.zeros(0, dtype=torch.float64)),
        test=test_set,
        label_space=2,
        micro_batch=8,
    )
    # at theta = 0, sigmoid = 1/2: grad l_n = (1/2 - y_n) z_n, grad L_test = (1/2 - 1) (2, 1) = (-1, -1/2)
    # n = 0: (-1/2)(1, 0); n = 1: (1/2)(0, 2); n = 2: (-1/2)(1, 1)
    ct = [0.5, -0.5, 0.75]
    measured = task.gradients.directional(task.theta0, torch.tensor([-1.0, -0.5], dtype=torch.float64))
    np.testing.assert_allclose(measured.numpy(), ct)
    gamma = torch.tensor([[0.5, 0.0, 0.5]], dtype=torch.float64)
    law = measure_learning_law(task, gamma, 0.1, every=1)
    # active examples 0 and 2: CT = 0.5 and 0.75; CTbar = 0.625; std (ddof 1) = 0.25 / sqrt(2)
    assert law.sim_t[0] == pytest.approx(0.625 / (0.25 / np.sqrt(2)))
    assert law.zero_weight_fraction == 1.0  # the only CT <= 0 example (n = 1) has gamma = 0
    assert law.zero_weight_fraction_positive == 0.0  # both CT > 0 examples keep their weight
    assert law.nonpositive_weight == 0.0  # and all of it
    law = measure_learning_law(task, torch.full((1, 3), 1 / 3, dtype=torch.float64), 0.1, every=1)
    assert law.nonpositive_weight == pytest.approx(1 / 3)  # uniform: the share of CT <= 0 examples
