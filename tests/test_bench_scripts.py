"""Every benchmark script starts: `python bench/NAME.py --help` exits 0. A script that imports
what an installed checkout lacks (tests/ is not a package on the path) fails here, not in the
middle of `make bench`. Scripts without options would run whole, so only those with argparse."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in (ROOT / "bench").glob("*.py") if "argparse" in p.read_text())


@pytest.mark.slow  # 15 s on 2 cores (most scripts import torch): make test-slow runs it
def test_every_bench_script_starts() -> None:
    assert len(SCRIPTS) >= 10, SCRIPTS
    # all at once, from another folder than the root: the scripts must find the project themselves
    runs = {
        p.name: subprocess.Popen(
            [sys.executable, str(p), "--help"], cwd="/", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        for p in SCRIPTS
    }
    failed = {}
    for name, proc in runs.items():
        _, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            failed[name] = err.strip().splitlines()[-1:]
    assert not failed, failed
