"""keep_freed_blocks: the LM's block temporaries stop costing page faults at every step (glibc)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Six 2 MB arrays alive at once, written and freed twenty times: the shape of an LM step's
# temporaries on a block of 256 curves x 1,000 points. Prints the minor page faults of the twenty.
STEPS = """
import resource, sys
import numpy as np
if sys.argv[1] == "hint":
    from fitting.heap import keep_freed_blocks
    keep_freed_blocks()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(2):
    arrays = [np.ones(256 * 1000) for _ in range(6)]
    del arrays
before = faults()
for _ in range(20):
    arrays = [np.ones(256 * 1000) for _ in range(6)]
    del arrays
print(faults() - before)
"""


def _faults(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}  # glibc's defaults
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", STEPS, mode], env=env, capture_output=True, text=True, check=True)
    return int(out.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's")
def test_freed_block_temporaries_stay_in_the_heap() -> None:
    plain, hinted = _faults("plain"), _faults("hint")
    # 20 steps x 12 MB handed back and faulted in again: ~60k faults at glibc's start-up thresholds
    assert plain > 20_000
    assert hinted < plain / 20
