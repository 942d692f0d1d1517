"""Load on a real server process: 32 clients uploading 50 curves each while others fit and watch."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.service.loadgen import run_load
from tests.service.processes import Spawn


@pytest.mark.slow  # 17 s on 2 cores; bench/load.py measures the same load
def test_32_concurrent_uploaders_with_fits_and_watches(tmp_path: Path, spawn: Spawn) -> None:
    server = spawn(tmp_path)
    try:
        report = run_load(server.target, clients=32, curves_per_client=50, fitters=2, watchers=2)
    finally:
        server.terminate()
    summary = report.summary()
    print("load:", {k: round(v, 1) for k, v in summary.items()})
    assert not report.errors, report.errors.most_common(5)
    assert report.stored == report.distinct_request_ids == 32 * 50  # every curve exactly once
    assert report.fit_latency and report.watch_events > 0
    log = "".join(server.output)
    assert "database is locked" not in log and "Traceback" not in log, log[-3000:]
