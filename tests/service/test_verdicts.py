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


def test_one_floor_is_tested_before_it_is_shared_and_the_cli_can_choose(
    server: RunningServer, client: ScalingLawClient, capsys: pytest.CaptureFixture[str]
) -> None:
    lower_floor = (0.3 + (1e3 / X) ** 0.3) * np.exp(0.005 * RNG.standard_normal(X.size))
    base = client.upload_curve(X, HOLDS, name="baseline").id
    same = client.upload_curve(X, FASTER, name="same floor").id
    lower = client.upload_curve(X, lower_floor, name="lower floor").id
    kept = client.compare(base, [same], bootstrap=19)
    assert kept.shared_floor.tested and kept.shared_floor.shared == ["L0"] and kept.baseline_fit.shared == ["L0"]
    split = client.compare(base, [lower], bootstrap=19)
    assert split.shared_floor.shared == [] and split.shared_floor.delta_aic > 10 and split.baseline_fit.shared == []
    assert split.candidates[0].fit.params["L0"] == pytest.approx(0.3, rel=0.05)
    told = client.compare(base, [lower], bootstrap=19, shared=["L0"])  # asked for: shared, untested
    assert not told.shared_floor.tested and told.baseline_fit.shared == ["L0"]
    target = ["--target", server.target]
    assert main([*target, "compare", base, lower, "--bootstrap", "19"]) == 0
    assert "floor: L0 fitted per curve: one shared L0 is rejected" in capsys.readouterr().out
    argv = [*target, "compare", base, same, "--separate", "--x-max", "1000", "--method", "robust", "--json"]
    assert main([*argv, "--bootstrap", "19"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["baseline_fit"]["shared"] == [] and not data["shared_floor"]["tested"]
    assert data["baseline_fit"]["n_points"] == 1000
    assert main([*target, "compare", base, same, "--law", "power", "--bootstrap", "19", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["baseline_fit"]["law"] == "power"
