"""IsoFLOP profiles (Approach 2) against synthetic profiles with known optima, and the envelope
of training curves (Approach 1) against the law the curves follow."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from fitting import FitImpossibleError, InvalidInputError, compute_optimal, get_law, isoflop_profiles, loss_envelope
from fitting.isoflop import group_by_compute
from tests.fitting.test_compute_optimal import REPLICATION

TRUE_A, TRUE_K = 0.5, 0.09  # N_opt = k C^a
BUDGETS = np.array([1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21])


def known_profiles(rng: np.random.Generator, noise: float = 0.002) -> tuple[dict[str, Any], np.ndarray]:
    """Runs on parabolas in ln N whose vertices are known: N*(C) = k C^a, loss* falling with C;
    sizes spread unevenly around each vertex so no profile is centred on its minimum."""
    n, c, loss, best = [], [], [], []
    for j, budget in enumerate(BUDGETS):
        n_star = TRUE_K * budget**TRUE_A
        offsets = np.sort(rng.uniform(-1.6, 2.2, 11))
        sizes = n_star * np.exp(offsets)
        n.append(sizes)
        c.append(np.full(sizes.size, budget) * np.exp(rng.uniform(-0.02, 0.02, sizes.size)))  # read off a plot
        loss.append(3.0 - 0.1 * j + 0.05 * offsets**2 + noise * rng.standard_normal(sizes.size))
        best.append(n_star)
    n_all, c_all = np.concatenate(n), np.concatenate(c)
    return {"n": n_all, "d": c_all / (6 * n_all), "loss": np.concatenate(loss), "compute": c_all}, np.array(best)


def test_profiles_find_their_known_minima_and_the_frontier_its_exponent() -> None:
    runs, best = known_profiles(np.random.default_rng(3))
    result = isoflop_profiles(**runs, bootstrap=500)
    assert len(result.profiles) == len(BUDGETS) and result.left_out == 0
    covered = 0
    for profile, budget, n_star in zip(result.profiles, BUDGETS, best, strict=True):
        assert profile.status == "ok" and profile.n.size == 11
        assert profile.budget == pytest.approx(budget, rel=0.03)
        assert profile.n_opt.value == pytest.approx(n_star, rel=0.05)
        covered += profile.n_opt.low <= n_star <= profile.n_opt.high
    assert covered >= len(BUDGETS) - 1  # 95 % intervals: seven of seven or six (p = 0.96)
    assert result.a.value == pytest.approx(TRUE_A, abs=0.01)
    assert result.a.low <= TRUE_A <= result.a.high
    assert result.a.value + result.b.value == pytest.approx(1.0)
    (at,) = result.n_opt([1e23])
    assert at.low <= TRUE_K * 1e23**TRUE_A <= at.high
    (tokens,) = result.d_opt([1e23])
    assert tokens.value == pytest.approx(1e23 / (6 * at.value))


def test_profiles_of_the_chinchilla_law_land_on_its_closed_form() -> None:
    law, n, d = get_law("chinchilla"), [], []
    for budget in BUDGETS:
        sizes = compute_optimal(REPLICATION, [budget]).rows[0].n_opt.value * np.geomspace(0.5, 2.0, 9)
        n.append(sizes)
        d.append(budget / (6 * sizes))
    inputs = {"N": np.concatenate(n), "D": np.concatenate(d)}
    result = isoflop_profiles(inputs["N"], inputs["D"], law.evaluate(inputs, REPLICATION), bootstrap=0)
    closed = compute_optimal(REPLICATION, [p.budget for p in result.profiles])
    for profile, row in zip(result.profiles, closed.rows, strict=True):
        assert profile.n_opt.value == pytest.approx(row.n_opt.value, rel=0.01)  # a parabola, not the law
        assert profile.loss_opt.value == pytest.approx(row.loss.value, rel=1e-4)
    assert result.a.value == pytest.approx(closed.a.value, abs=0.002)


@pytest.mark.parametrize(
    ("a", "b", "status"), [(-0.05, 0.0, "not convex"), (0.001, -0.1, "minimum outside its runs")]
)  # fmt: skip
def test_a_profile_without_a_minimum_is_said_and_kept_out_of_the_frontier(a: float, b: float, status: str) -> None:
    runs, _ = known_profiles(np.random.default_rng(4))
    first = np.flatnonzero(runs["compute"] < 2e18)
    u = np.log(runs["n"][first]) - np.log(runs["n"][first]).mean()
    runs["loss"][first] = 3.5 + b * u + a * u**2  # concave, or falling past its largest run
    result = isoflop_profiles(**runs, bootstrap=100)
    assert result.profiles[0].status == status
    assert math.isnan(result.profiles[0].n_opt.value) == (status == "not convex")
    assert [p.status for p in result.profiles[1:]] == ["ok"] * (len(BUDGETS) - 1)
    assert result.a.value == pytest.approx(TRUE_A, abs=0.02)


def test_runs_in_no_profile_are_counted_not_used() -> None:
    runs, _ = known_profiles(np.random.default_rng(5))
    stray = {"n": np.array([1e8, 2e9]), "d": np.array([1e9, 1e9]), "loss": np.array([3.0, 3.0])}
    stray["compute"] = 6 * stray["n"] * stray["d"]  # 6e17 and 1.2e19: no budget near either alone
    merged: dict[str, Any] = {k: np.concatenate([runs[k], stray[k]]) for k in runs}
    result = isoflop_profiles(**merged, bootstrap=0)
    assert result.left_out == 2 and len(result.profiles) == len(BUDGETS)


def test_grouping_takes_the_densest_budget_first() -> None:
    compute = np.array([1.0, 1.05, 1.1, 1.15, 1.3, 10.0, 10.2, 10.4, 10.6, 55.0]) * 1e18
    groups = group_by_compute(compute, np.arange(compute.size) + 1.0, width=0.04, min_points=4)
    assert [g.tolist() for g in groups] == [[0, 1, 2, 3], [5, 6, 7, 8]]  # 1.3e18 is 0.09 decades from 1.05e18


def test_too_few_profiles_is_impossible_and_says_why() -> None:
    runs, _ = known_profiles(np.random.default_rng(6))
    first = runs["compute"] < 2e18
    with pytest.raises(FitImpossibleError) as err:
        isoflop_profiles(**{k: v[first] for k, v in runs.items()})
    assert "1 IsoFLOP profile" in err.value.message and "needs two" in err.value.message


@pytest.mark.parametrize(
    ("change", "field"),
    [({"n": [1e8, -1.0, 1e9]}, "n"), ({"loss": [3.0, math.nan, 2.0]}, "loss"), ({"d": [1e9, 1e9]}, "n"),
     ({"width": 0.0}, "width"), ({"min_points": 3}, "min_points"), ({"bootstrap": -1}, "bootstrap"),
     ({"flops_per_token": 0.0}, "flops_per_token")],
)  # fmt: skip
def test_bad_runs_are_refused_naming_the_field(change: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"n": [1e8, 1e8, 1e9], "d": [1e9, 1e9, 1e9], "loss": [3.0, 3.0, 2.0], **change}
    with pytest.raises(InvalidInputError) as err:
        isoflop_profiles(**args)  # type: ignore[arg-type]
    assert err.value.field == field


def test_the_envelope_of_training_curves_finds_the_laws_exponent() -> None:
    law = get_law("chinchilla")
    tokens = np.geomspace(1e8, 1e12, 200)
    runs = [(n, tokens, law.evaluate({"N": np.full_like(tokens, n), "D": tokens}, REPLICATION))
            for n in np.geomspace(1e7, 3e10, 25)]  # fmt: skip
    result = loss_envelope(runs, bootstrap=100)
    truth = compute_optimal(REPLICATION, [1e21]).a.value
    assert result.a.value == pytest.approx(truth, abs=0.005)
    assert result.a.low <= truth <= result.a.high
    # every envelope point is the best run there: no run reaches a lower loss at that compute
    for c, n, loss in zip(result.compute, result.n_opt, result.loss, strict=True):
        others = law.evaluate({"N": np.array([s for s, *_ in runs]), "D": c / (6 * np.array([s for s, *_ in runs]))},
                              REPLICATION)  # fmt: skip
        reached = [c >= 6 * s * tokens[0] and c <= 6 * s * tokens[-1] for s, *_ in runs]
        assert loss == pytest.approx(others[reached].min(), rel=1e-3)
        assert n == runs[int(np.flatnonzero(reached)[np.argmin(others[reached])])][0]


def test_the_envelope_refuses_what_it_cannot_read() -> None:
    tokens = np.geomspace(1e8, 1e10, 20)
    with pytest.raises(FitImpossibleError):
        loss_envelope([(1e8, tokens, 3.0 / tokens**0.1), (1e8, tokens, 3.1 / tokens**0.1)])
    with pytest.raises(InvalidInputError) as err:
        loss_envelope([(1e8, tokens, 3.0 / tokens**0.1), (1e9, tokens[::-1], 3.0 / tokens**0.1)])
    assert err.value.field == "runs[1].tokens" and err.value.index == 1
    with pytest.raises(InvalidInputError) as err:
        loss_envelope([(1e8, tokens, 3.0 / tokens**0.1)])
    assert err.value.field == "runs"
