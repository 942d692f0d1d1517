"""fit_batch against fit_curve, joint fits with shared parameters, the paper's procedure."""

from __future__ import annotations

import numpy as np
import pytest

from fitting import FitStatus, fit_batch, fit_curve, fit_joint

from .conftest import noisy, step_power_curve


def random_curves(n: int, seed: int = 0) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[dict[str, float]]]:
    rng = np.random.default_rng(seed)
    curves, truths = [], []
    for _ in range(n):
        truth = {"L0": rng.uniform(0.5, 3), "B": 10 ** rng.uniform(2, 8), "beta": rng.uniform(0.1, 1.0)}
        length = int(rng.integers(40, 400))
        x = np.geomspace(10, 1e5, length)
        curves.append((x, noisy("step_power", x, truth, rng, 0.01)))
        truths.append(truth)
    return curves, truths


def test_fit_batch_equals_fit_curve_on_the_same_curves() -> None:
    curves, _ = random_curves(40)
    batch = fit_batch(curves)
    for (x, loss), b in zip(curves, batch, strict=True):
        single = fit_curve(x, loss)
        assert b.status is single.status and b.message == single.message
        # a curve whose power term dwarfs L0 everywhere pushes L0 onto its bound, 0
        assert b.status is FitStatus.CONVERGED or b.message == "ran to a bound: L0"
        assert b.n_points == len(x)
        for k in ("L0", "B", "beta"):
            # both reach the same optimum, within a few % of a standard error
            assert abs(b.params[k] - single.params[k]) <= 0.05 * single.stderr[k] + 1e-9 * abs(single.params[k]), k
            assert b.stderr[k] == pytest.approx(single.stderr[k], rel=0.05)


def test_fit_batch_keeps_input_order_and_handles_constant_curves() -> None:
    curves, truths = random_curves(5, seed=1)
    x = np.geomspace(10, 1e5, 30)
    curves.insert(2, (x, np.full(30, 2.0)))
    results = fit_batch(curves)
    assert results[2].status is FitStatus.UNIDENTIFIABLE
    for res, truth in zip(results[:2] + results[3:], truths, strict=True):
        assert res.params["beta"] == pytest.approx(truth["beta"], rel=0.05)


def test_fit_batch_bootstrap_gives_each_curve_intervals() -> None:
    curves, _ = random_curves(3, seed=2)
    results = fit_batch(curves, bootstrap=50)
    for res in results:
        assert res.ci_method == "bootstrap" and res.samples is not None and res.samples.shape == (50, 3)


def test_joint_fit_shares_l0_and_recovers_both_curves() -> None:
    rng = np.random.default_rng(3)
    x = np.arange(1.0, 4001.0)
    slow = {"L0": 0.5, "B": 3.16e8, "beta": 0.12}
    fast = {"L0": 0.5, "B": 1.99e7, "beta": 0.14}
    curves = [(x, noisy("step_power", x, p, rng, 0.002)) for p in (slow, fast)]
    base, cand = fit_joint(curves, bootstrap=100)
    assert base.params["L0"] == cand.params["L0"]
    assert base.shared == ("L0",)
    assert base.params["beta"] == pytest.approx(0.12, rel=0.05)
    assert cand.params["beta"] == pytest.approx(0.14, rel=0.05)
    assert base.samples is not None and cand.samples is not None
    np.testing.assert_array_equal(base.samples[:, 0], cand.samples[:, 0])  # paired resamples
    # a joint fit is at least as good for the pair as separate fits with the same L0 forced
    for res in (base, cand):
        assert res.status is FitStatus.CONVERGED and res.r2 > 0.99


def test_joint_fit_without_sharing_equals_separate_fits() -> None:
    curves, _ = random_curves(2, seed=4)
    joint = fit_joint(curves, shared=())
    for (x, loss), res in zip(curves, joint, strict=True):
        alone = fit_curve(x, loss)
        assert res.params["beta"] == pytest.approx(alone.params["beta"], rel=1e-3)


def test_paper_method_agrees_with_robust_on_clean_curves() -> None:
    x = np.arange(1.0, 4001.0)
    truth = {"L0": 0.0515, "B": 3.16e8, "beta": 0.12}
    loss = noisy("step_power", x, truth, np.random.default_rng(0), 0.0)
    paper = fit_curve(x, loss, method="paper", x_min=400)
    robust = fit_curve(x, loss, x_min=400)
    assert paper.method == "paper" and paper.extra["t0"] == 400
    assert paper.extra["r2_loglinear"] > 0.999
    for k, v in truth.items():
        assert paper.params[k] == pytest.approx(v, rel=0.01), k
        assert robust.params[k] == pytest.approx(v, rel=1e-4), k


def test_paper_method_joint_shares_l0_and_t0() -> None:
    x = np.arange(1.0, 4001.0)
    a = noisy("step_power", x, {"L0": 0.3, "B": 3.16e8, "beta": 0.12}, np.random.default_rng(0), 0.0)
    b = noisy("step_power", x, {"L0": 0.3, "B": 1.99e7, "beta": 0.14}, np.random.default_rng(0), 0.0)
    base, cand = fit_joint([(x, a), (x, b)], method="paper", bootstrap=20)
    assert base.params["L0"] == cand.params["L0"] == pytest.approx(0.3, rel=0.01)
    assert base.extra["t0"] == cand.extra["t0"]
    assert cand.params["beta"] == pytest.approx(0.14, rel=0.01)
    assert base.ci_method == "bootstrap"


def test_robust_beats_paper_method_under_spikes() -> None:
    x, loss = step_power_curve(np.random.default_rng(8), sigma=0.003)
    loss[::20] *= 2.0
    truth = {"B": 3e6, "beta": 0.3}
    paper = fit_curve(x, loss, method="paper")
    robust = fit_curve(x, loss)
    for k in truth:
        assert abs(robust.params[k] / truth[k] - 1) < abs(paper.params[k] / truth[k] - 1), k
