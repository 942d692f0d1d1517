"""The simplex projection is exact at any scale and in either dtype; a diverging search stops with
a clear error naming the iteration."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from trainers.config import SearchConfig
from trainers.reference import qp_project_row
from trainers.search import SearchDivergedError, search_policy
from trainers.simplex import project_to_simplex

from .conftest import tiny_perceptron


def exact_projection(v: np.ndarray) -> np.ndarray:
    """The sort-based projection in exact rational arithmetic on the given floats."""
    values = [Fraction(float(a)) for a in v]
    u = sorted(values, reverse=True)
    total, tau = Fraction(0), Fraction(0)
    for k, a in enumerate(u, start=1):
        total += a
        if a - (total - 1) / k > 0:
            tau = (total - 1) / k
    return np.array([float(max(a - tau, Fraction(0))) for a in values])


SCALES = {
    "tiny": lambda rng, n: rng.normal(size=n) * 1e-12,
    "unit": lambda rng, n: rng.normal(size=n),
    "huge": lambda rng, n: rng.normal(size=n) * 1e8,
    "huge offset": lambda rng, n: 1e8 + rng.normal(size=n),  # the float32 crash: u - (cumsum - 1) / k loses the 1
    "mixed": lambda rng, n: rng.normal(size=n) * 10.0 ** rng.uniform(-12, 8, size=n),
    "one dominant": lambda rng, n: np.concatenate([[1e6], rng.normal(size=n - 1) * 1e-6]),
    "ties": lambda rng, n: np.full(n, 3.0),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", sorted(SCALES))
def test_projection_is_exact_at_any_scale(scale: str, dtype: torch.dtype) -> None:
    rng = np.random.default_rng(sorted(SCALES).index(scale))
    rows = np.stack([SCALES[scale](rng, 17) for _ in range(6)])
    v = torch.tensor(rows, dtype=dtype)
    ours = project_to_simplex(v)
    assert ours.dtype == dtype
    assert torch.all(ours >= 0)
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(ours.double().sum(dim=1), torch.ones(6, dtype=torch.float64), rtol=0, atol=17 * tol)
    # the reference sees the inputs as the projection does, rounded to the dtype
    exact = np.stack([exact_projection(row) for row in v.double().numpy()])
    np.testing.assert_allclose(ours.double().numpy(), exact, rtol=0, atol=tol)


@pytest.mark.parametrize("scale", ["unit", "mixed", "one dominant"])
def test_projection_equals_the_qp_reference(scale: str) -> None:
    rng = np.random.default_rng(7)
    v = torch.tensor(SCALES[scale](rng, 12), dtype=torch.float64)
    np.testing.assert_allclose(project_to_simplex(v[None])[0].numpy(), qp_project_row(v).numpy(), atol=1e-6)


def test_a_large_float32_policy_step_keeps_a_support() -> None:
    """The step that crashed the LM search with --optimizer sgd: entries of 1e-3 moved by steps
    thousands of times larger, in float32."""
    g = torch.Generator().manual_seed(0)
    gamma = torch.full((64, 4096), 1 / 4096, dtype=torch.float32)
    step = torch.randn(64, 4096, generator=g, dtype=torch.float32) * 3e3
    out = project_to_simplex(gamma - step)
    assert torch.all((out > 0).sum(dim=1) >= 1)
    torch.testing.assert_close(out.sum(dim=1), torch.ones(64), rtol=0, atol=1e-5)


def test_non_finite_input_is_refused() -> None:
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="non-finite"):
            project_to_simplex(torch.tensor([[0.5, bad]]))
    # finite entries whose sum overflows float32 are finite: projected, not refused
    big = torch.tensor([[3e38, 3e38, 0.0]], dtype=torch.float32)
    torch.testing.assert_close(project_to_simplex(big), torch.tensor([[0.5, 0.5, 0.0]]))


def test_a_policy_taller_than_a_block_is_projected_row_by_row_alike() -> None:
    # rows are projected in blocks that fit the cache; the result does not depend on the blocks
    g = torch.Generator().manual_seed(1)
    v = torch.randn(300, 50, generator=g, dtype=torch.float64)
    whole = project_to_simplex(v)
    for i in (0, 127, 128, 299):
        torch.testing.assert_close(whole[i], project_to_simplex(v[i : i + 1])[0], rtol=0, atol=0)


def test_a_diverging_search_stops_naming_the_iteration() -> None:
    from dataclasses import replace

    task = tiny_perceptron()
    overflowed = replace(task, theta0=torch.full_like(task.theta0, float("inf")))  # as after a step of 1e308
    with pytest.raises(SearchDivergedError) as err:
        search_policy(overflowed, 8, 0.1, SearchConfig(outer_iters=3, outer_lr=0.1, holdout=0.0))
    assert "outer iteration 0" in str(err.value)
    assert err.value.field == "search.outer_lr"
