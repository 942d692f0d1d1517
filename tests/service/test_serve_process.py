"""The server as users run it: a real process, reached over loopback, stopped by SIGTERM."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from service.client import ScalingLawClient
from tests.service.processes import ROOT, Spawn


def test_serve_process_answers_and_drains_on_sigterm(tmp_path: Path, spawn: Spawn) -> None:
    server = spawn(tmp_path, grace_seconds=1)
    with ScalingLawClient(server.target) as client:
        info = client.upload_curve(np.arange(1.0, 6.0), [5.0, 4.0, 3.0, 2.5, 2.2], name="from a process")
        assert client.get_curve(info.id).name == "from a process"
    assert server.terminate(timeout=20) == 0
    assert (tmp_path / "scalinglaw.sqlite3").is_file()


def test_health_probe_of_the_container(tmp_path: Path, spawn: Spawn) -> None:
    server = spawn(tmp_path)
    env = {**os.environ, "SCALINGLAW_PORT": str(server.port)}
    probe = [sys.executable, "-m", "service.healthcheck"]
    assert subprocess.run(probe, cwd=ROOT, env=env, capture_output=True, timeout=30).returncode == 0
    server.terminate(timeout=20)
    assert subprocess.run(probe, cwd=ROOT, env=env, capture_output=True, timeout=30).returncode == 1
