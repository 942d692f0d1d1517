"""The memory estimate a server checks before it accepts a job: an upper bound of what a run
measures, not wildly above it, and absurd configurations estimate absurdly high."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

from trainers.config import PerceptronConfig, RunSpec, SearchConfig, TransformerConfig
from trainers.footprint import estimate_peak_bytes

GIB = 2**30

# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child forked from a large test
# process would report the parent's size
_MEASURE = """
import json, sys
from trainers import RunSpec, run
run(RunSpec.from_dict(json.loads(sys.argv[1])))
status = open("/proc/self/status").read().split("VmHWM:")[1]
print(int(status.split()[0]) * 1024)
"""


def measured_peak(spec: RunSpec) -> int:
    """The run's peak RSS in a process of its own, as a job runs."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, json.dumps(spec.to_dict())], capture_output=True, text=True, check=True
    )
    return int(out.stdout.split()[-1])


def test_the_estimate_bounds_a_measured_run() -> None:
    # 4,000 x 256 inputs and a 20 x 4,000 policy: a few seconds of work on a quiet machine
    spec = RunSpec(
        steps=20, device="cpu", bootstrap=10, perceptron=PerceptronConfig(dim=256, train_size=4_000),
        search=SearchConfig(outer_iters=1, diagnostics_every=10),
    )  # fmt: skip
    estimate, peak = estimate_peak_bytes(spec), measured_peak(spec)
    assert peak <= estimate <= 3 * peak, (estimate, peak)


def test_the_estimate_bounds_a_search_whose_gradient_is_checked_on_eight_parts() -> None:
    # a 600 x 4,000 policy in float64: every gradient-sized array is 19 MB, and 8 parts hold ~20 of them
    spec = RunSpec(
        steps=600, device="cpu", bootstrap=10, perceptron=PerceptronConfig(dim=16, train_size=4_000),
        search=SearchConfig(outer_iters=1, diagnostics_every=100, holdout=0.0, agreement_splits=8),
    )  # fmt: skip
    plain = estimate_peak_bytes(replace(spec, search=replace(spec.search, agreement_splits=0)))
    estimate, peak = estimate_peak_bytes(spec), measured_peak(spec)
    assert peak <= estimate <= 3 * peak, (estimate, peak)
    assert estimate >= plain + 19 * 600 * 4_000 * 8  # the parts' arrays are counted


def test_default_configurations_fit_the_default_job_memory_and_absurd_ones_do_not() -> None:
    default_limit = 16 * GIB  # service.settings.Settings.max_job_memory_bytes
    assert estimate_peak_bytes(RunSpec(search=SearchConfig(outer_iters=40))) < default_limit
    assert estimate_peak_bytes(RunSpec(task="transformer_lm", search=SearchConfig(outer_iters=4))) < default_limit
    for absurd in (
        RunSpec(perceptron=PerceptronConfig(dim=2**31 - 1)),
        RunSpec(bootstrap=2**31 - 1),
        RunSpec(steps=10**9, search=SearchConfig(outer_iters=1)),
        RunSpec(task="transformer_lm", transformer=TransformerConfig(d_model=2**20, n_heads=1)),
    ):
        assert estimate_peak_bytes(absurd) > 1000 * GIB
