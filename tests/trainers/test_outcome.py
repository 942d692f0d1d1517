"""The spec modules load no torch; a run's JobOutcome keeps the summary's published keys and
reads back from its JSON whole, its comparison included."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import fitting
from fitting import InvalidInputError
from fitting.comparison import CandidateResult
from fitting.verdict import Verdict
from tests.trainers.test_config_and_run import TINY as SMALL
from trainers import JobOutcome, SearchConfig, TrainingResult, run
from trainers.__main__ import print_summary
from trainers.report import write_report
from trainers.reproduction import SeedRun, format_spread, spread, table_cell

# The summary's keys, in order: `python -m trainers --json`, summary.json and a job's
# JobResult.summary_json, which the client and the CLI read by key.
SUMMARY_KEYS = [
    "task", "steps", "train_size", "n_params", "label_space", "ar_empirical", "ar_measured", "ar_desired_measured",
    "ar_fit", "ar_fit_ci", "cr_conventional", "cr_optimal", "cr_desired_conventional", "cr_desired_optimal",
    "cr_units", "sim_conventional", "sim_optimal", "zero_weight_fraction_optimal",
    "zero_weight_fraction_positive_optimal", "nonpositive_weight_optimal", "well_learned_share_optimal",
    "fit_conventional", "fit_optimal", "fit_r2", "end_rise", "end_rise_desired", "fit_from", "dB_over_B",
    "dbeta_over_beta", "auc_conventional", "auc_optimal", "outer_iters", "best_iteration", "snapshots_held",
    "history", "law_checkpoints", "seconds",
    "timings", "device", "artifacts", "warnings",
]  # fmt: skip

# a small search, with the Learning Law measured at two outer iterations
TINY = replace(SMALL, search=replace(SMALL.search, law_checkpoints=2))

_NO_TORCH = """
import json
import sys
import trainers
from trainers.config import RunSpec
from trainers.footprint import estimate_peak_bytes
from trainers.outcome import JobOutcome
from trainers.presets import preset_spec
spec = preset_spec("paper").validate()
assert estimate_peak_bytes(spec) > 0 and RunSpec.from_dict(spec.to_dict()) == spec
import service.server.serve  # the server checks a job with them, on its event loop
before = sorted(name for name in sys.modules if name.split(".")[0] == "torch")
_ = trainers.run  # the names that train load torch when first asked for
print(json.dumps({"before": before, "after": "torch" in sys.modules}))
"""


def test_the_spec_modules_and_the_server_import_no_torch() -> None:
    """In a fresh process: the configuration, presets, memory estimate and outcome load no torch,
    nor does the server that checks a job with them before it runs (loading torch takes seconds)."""
    out = subprocess.run([sys.executable, "-c", _NO_TORCH], capture_output=True, text=True, check=True)
    seen = json.loads(out.stdout.splitlines()[-1])
    assert seen["before"] == [], f"torch loaded: {seen['before'][:5]}"
    assert seen["after"] is True


@pytest.fixture(scope="module")
def searched() -> TrainingResult:
    return run(TINY)


def test_the_summary_keeps_its_keys(searched: TrainingResult) -> None:
    summary = searched.outcome.summary()
    assert list(summary) == SUMMARY_KEYS
    plain = run(replace(TINY, search=SearchConfig())).outcome
    assert list(plain.summary()) == SUMMARY_KEYS
    assert plain.optimal is None and plain.comparison is None and plain.summary()["fit_optimal"] is None
    assert JobOutcome.from_json(plain.to_json()).to_json() == plain.to_json()


def test_the_outcome_reads_back_from_its_json(searched: TrainingResult) -> None:
    outcome = searched.outcome
    text = outcome.to_json()
    back = JobOutcome.from_json(text)
    assert back.to_json() == text
    assert back.optimal == outcome.optimal and back.history == outcome.history
    assert back.checkpoints == outcome.checkpoints and len(back.checkpoints) == 2
    # the comparison comes back whole: its bootstrap samples give the same AR and interval anywhere
    assert outcome.comparison is not None and back.comparison is not None
    (before,), (after,) = outcome.comparison.candidates, back.comparison.candidates
    assert after.fit.samples is not None and before.fit.samples is not None
    np.testing.assert_array_equal(after.fit.samples, before.fit.samples)
    for horizon in (30.0, 3e4):
        a = fitting.acceleration_ratio(outcome.comparison.baseline_fit, before.fit, horizon)
        b = fitting.acceleration_ratio(back.comparison.baseline_fit, after.fit, horizon)
        assert (a.value, a.low, a.high) == (b.value, b.low, b.high)
    assert after.accelerations[0].ar_measured.reach is before.accelerations[0].ar_measured.reach
    # every field of fitting's results is kept, those added after this was written too (the verdicts)
    stored = json.loads(text)["comparison"]
    assert set(stored["baseline_fit"]) == {f.name for f in dataclasses.fields(fitting.FitResult)}
    assert set(stored["candidates"][0]) == {f.name for f in dataclasses.fields(CandidateResult)}
    assert (after.verdict is None) == (before.verdict is None) and repr(after.fit.verdict) == repr(before.fit.verdict)


def test_a_summary_file_reads_back_without_a_comparison(searched: TrainingResult, tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(searched.outcome.summary(), default=float))
    back = JobOutcome.from_json(path.read_text())
    assert back.comparison is None and json.dumps(back.summary(), default=float) == path.read_text()


def test_a_summary_without_a_key_is_refused_naming_it(searched: TrainingResult) -> None:
    data = searched.outcome.summary()
    del data["fit_from"]
    with pytest.raises(InvalidInputError) as err:
        JobOutcome.from_dict(data)
    assert err.value.field == "fit_from"
    with pytest.raises(InvalidInputError):
        JobOutcome.from_json("[1, 2]")


def test_the_reproduction_report_reads_the_outcomes(searched: TrainingResult, tmp_path: Path) -> None:
    runs = [SeedRun.of(searched)]
    path = write_report(runs, tmp_path, spec=TINY, wall_seconds=1.0)
    text = path.read_text()
    cr = searched.outcome.conventional.cr
    assert f"| test CR, conventional | {cr:.2f} |" in text
    assert "| 3. J falls, CR rises | yes | J falls in" in text
    assert (tmp_path / "fig5_test_curves.png").stat().st_size > 0
    assert format_spread(runs).splitlines()[0].split() == ["seed", "0", "mean", "min", "max"]


def test_a_huge_value_keeps_its_table_cell_narrow() -> None:
    # a fitted AR of 1e35 (a law that does not describe its curve, extrapolated) printed with .2f
    # ran 40 characters wide and pushed the next seed's column out of its place
    assert table_cell(5.8e35, ".2f") == "5.8e+35"
    assert table_cell(12.391, ".2f") == "12.39" and table_cell(0.915, ".1%") == "91.5%"
    assert table_cell(float("nan"), ".2f") == "-"


def test_the_ar_from_the_fits_is_printed_only_where_its_verdict_is_good(
    searched: TrainingResult, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = searched.outcome
    assert outcome.comparison is not None and outcome.ar_fit is not None
    row = "test AR at T, from the fits (verdict good)"
    for good in (True, False):
        candidate = dataclasses.replace(
            outcome.comparison.candidates[0], verdict=Verdict(good=good, reason="the law misses the curve")
        )
        comparison = dataclasses.replace(outcome.comparison, candidates=[candidate])
        judged = dataclasses.replace(SeedRun.of(searched), outcome=dataclasses.replace(outcome, comparison=comparison))
        value = spread([judged])[row]["seed 0"]
        print_summary(judged.outcome)
        printed = capsys.readouterr().out
        if good:
            assert value == outcome.ar_fit.value and f"from the fits {outcome.ar_fit:.3f}" in printed
        else:
            assert math.isnan(value) and "from the fits" not in printed.split("(!)")[0]
            assert "(!) the AR from the fits, dB/B and dbeta/beta are not to be read: the law misses" in printed
