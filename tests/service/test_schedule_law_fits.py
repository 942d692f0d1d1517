"""The schedule-aware laws fitted through a real server: a curve's lr column reaches them beside x."""

from __future__ import annotations

import numpy as np
import pytest

from fitting import get_law
from service.client import InvalidArgument, ScalingLawClient

STEPS = np.arange(30.0, 12_001.0, 30.0)
COSINE = 3e-5 + 1.35e-4 * (1 + np.cos(np.pi * STEPS / STEPS[-1]))
TRUTH = {"L0": 2.5, "A": 0.5, "alpha": 0.5, "C": 0.3}


def test_a_curve_with_lr_is_fitted_by_lr_annealing(client: ScalingLawClient) -> None:
    loss = get_law("lr_annealing").evaluate({"x": STEPS, "lr": COSINE}, TRUTH)
    loss = loss * np.exp(0.003 * np.random.default_rng(0).standard_normal(STEPS.size))
    info = client.upload_curve(STEPS, loss, lr=COSINE)
    (fit,) = client.fit([info.id], law="lr_annealing", x_min=300.0)
    assert fit.status == "converged"
    assert fit.params["alpha"] == pytest.approx(TRUTH["alpha"], rel=0.1)
    assert fit.params["C"] == pytest.approx(TRUTH["C"], rel=0.1)
    plain = client.upload_curve(STEPS, loss)
    with pytest.raises(InvalidArgument, match="lr"):  # a curve without lr names what is missing
        client.fit([plain.id], law="lr_annealing")
