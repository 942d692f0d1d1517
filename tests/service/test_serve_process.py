"""The server as users run it: a real process, reached over loopback, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from service.client import ScalingLawClient

ROOT = Path(__file__).resolve().parents[2]


def test_serve_process_answers_and_drains_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "SCALINGLAW_PORT": "0", "SCALINGLAW_DATA_DIR": str(tmp_path), "SCALINGLAW_GRACE_SECONDS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.main"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = ""
        deadline = time.monotonic() + 30
        while "listening on" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
        port = int(line.rsplit(":", 1)[1])
        with ScalingLawClient(f"127.0.0.1:{port}") as client:
            info = client.upload_curve(np.arange(1.0, 6.0), [5.0, 4.0, 3.0, 2.5, 2.2], name="from a process")
            assert client.get_curve(info.id).name == "from a process"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (tmp_path / "scalinglaw.sqlite3").is_file()


def test_health_probe_of_the_container(tmp_path: Path) -> None:
    env = {**os.environ, "SCALINGLAW_PORT": "0", "SCALINGLAW_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "service.main"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = ""
        while "listening on" not in line:
            line = proc.stdout.readline()
        port = line.rsplit(":", 1)[1].strip()
        probe = [sys.executable, "-m", "service.healthcheck"]
        ok = subprocess.run(probe, cwd=ROOT, env={**env, "SCALINGLAW_PORT": port}, capture_output=True, timeout=30)
        assert ok.returncode == 0
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        down = subprocess.run(probe, cwd=ROOT, env={**env, "SCALINGLAW_PORT": port}, capture_output=True, timeout=30)
        assert down.returncode == 1
    finally:
        if proc.poll() is None:
            proc.kill()
