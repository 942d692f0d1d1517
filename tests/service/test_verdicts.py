"""Every fit and comparison carries a verdict on whether the law describes the curve, through the
server, the client, the CLI's tables and JSON: a fit-based number with a poor verdict is marked
and its reason printed, never shown bare."""

from __future__ import annotations

import json

import numpy as np
import pytest

from service.cli import main
from service.client import ScalingLawClient

from .conftest import RunningServer

X = np.arange(1.0, 1201.0)
RNG = np.random.default_rng(5)
HOLDS = (0.5 + (3e3 / X) ** 0.3) * np.exp(0.005 * RNG.standard_normal(X.size))
FASTER = (0.5 + (1e3 / X) ** 0.3) * np.exp(0.005 * RNG.standard_normal(X.size))
WARM_DOWN = FASTER * np.where(X > 960, np.exp(-0.08 * (X - 960) / 240), 1.0)  # a learning-rate warm-down


def test_a_fit_says_whether_its_law_describes_the_curve(client: ScalingLawClient) -> None:
    holds = client.upload_curve(X, HOLDS, name="holds").id
    warm = client.upload_curve(X, WARM_DOWN, name="warm-down").id
    good, poor = client.fit([holds, warm])
    assert good.verdict.judged and good.verdict.good and "within noise" in good.verdict.reason
    assert poor.status == "converged" and poor.verdict.poor and "the law misses the curve" in poor.verdict.reason
    assert poor.verdict.systematic > 0.01
    stored = client.list_fits(warm)[-1]
    assert stored.verdict == poor.verdict  # kept with the fit in the store


def test_a_comparison_marks_fit_based_numbers_whose_verdict_is_poor(
    server: RunningServer, client: ScalingLawClient, capsys: pytest.CaptureFixture[str]
) -> None:
    base = client.upload_curve(X, HOLDS, name="baseline").id
    good = client.upload_curve(X, FASTER, name="faster").id
    warm = client.upload_curve(X, WARM_DOWN, name="warm-down").id
    clean = client.compare(base, [good], bootstrap=39)
    assert clean.candidates[0].verdict.good
    argv = ["--target", server.target, "compare", base, warm, "--bootstrap", "39"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "(!)" in out and "not to be read bare" in out and "the law misses the curve" in out
    # the verdict column, with each poor law's reason under the table (a shared L0 pulled down by the
    # warm-down no longer describes the baseline either)
    assert "verdict" in out and "poor: warm-down: the law misses the curve" in out
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (cand,) = data["candidates"]
    assert cand["verdict"]["judged"] and not cand["verdict"]["good"] and not cand["fit"]["verdict"]["good"]
    assert clean.baseline_fit.verdict.good and clean.candidates[0].fit.verdict.good
