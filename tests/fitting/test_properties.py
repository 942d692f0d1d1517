"""Property-based checks of the building blocks (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import nnls

from fitting import acceleration_ratio, compression_ratio, speedup_at_loss
from fitting.linear import nonneg_linear_fit

params = st.fixed_dictionaries(
    {
        "L0": st.floats(0.0, 3.0),
        "B": st.floats(1e2, 1e9),
        "beta": st.floats(0.05, 1.5),
    }
)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 3), m=st.integers(4, 30))
def test_nonneg_linear_fit_equals_scipy_nnls(seed: int, k: int, m: int) -> None:
    rng = np.random.default_rng(seed)
    basis = rng.uniform(0.1, 2.0, size=(1, m, k))
    y = rng.uniform(0.5, 3.0, size=(1, m))
    ours = nonneg_linear_fit(basis, y, np.ones((1, m)))[0]
    w = 1.0 / y[0]  # the weight is mask / y^2 on squared errors
    ref, _ = nnls(basis[0] * w[:, None], y[0] * w)
    cost = lambda c: float((((basis[0] @ c) - y[0]) * w) ** 2 @ np.ones(m))  # noqa: E731
    assert np.all(ours >= 0)
    assert cost(ours) == pytest.approx(cost(ref), rel=1e-7, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(p=params, horizon=st.floats(10.0, 1e8))
def test_a_process_is_never_faster_than_itself(p: dict[str, float], horizon: float) -> None:
    assert acceleration_ratio(p, p, horizon).value == pytest.approx(1.0, rel=1e-9)


@settings(max_examples=100, deadline=None)
@given(p=params, factor=st.floats(0.05, 0.95), target_gap=st.floats(0.01, 5.0))
def test_smaller_b_is_a_speed_up_by_exactly_the_ratio(p: dict[str, float], factor: float, target_gap: float) -> None:
    cand = {**p, "B": p["B"] * factor}  # same L0 and beta: t(L*) scales with B
    value = speedup_at_loss(p, cand, p["L0"] + target_gap).value
    assert value == pytest.approx(1.0 / factor, rel=1e-9)


@settings(max_examples=50, deadline=None)
@given(loss=st.lists(st.floats(0.01, 20.0), min_size=1, max_size=50), vocab=st.integers(2, 100_000))
def test_lower_losses_compress_better(loss: list[float], vocab: int) -> None:
    lower = [v * 0.5 for v in loss]
    assert compression_ratio(lower, vocab) == pytest.approx(2.0 * compression_ratio(loss, vocab))
