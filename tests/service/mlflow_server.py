"""A real `mlflow server` process on a SQLite backend store, for the MLflow import tests and the
upload benchmark's side-by-side (never used by the service itself)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MlflowServer:
    """`mlflow server` with its backend store at data_dir/mlflow.db and artifacts beside it, one
    worker, on a free loopback port; `uri` is its tracking URI once /health answers."""

    def __init__(self, data_dir: Path, *, timeout: float = 120):
        self.port = free_port()
        command = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
        self.log = (data_dir / "mlflow-server.log").open("w")
        self.proc = subprocess.Popen(
            [
                command, "server", "--backend-store-uri", f"sqlite:///{data_dir / 'mlflow.db'}",
                "--default-artifact-root", str(data_dir / "artifacts"), "--host", "127.0.0.1",
                "--port", str(self.port), "--workers", "1",
            ],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=data_dir, start_new_session=True,
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        )  # fmt: skip
        self.uri = f"http://127.0.0.1:{self.port}"
        self._wait(timeout, data_dir)

    def _wait(self, timeout: float, data_dir: Path) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("mlflow server did not start:\n" + (data_dir / "mlflow-server.log").read_text()[-3000:])

    def stop(self) -> None:
        """SIGTERM to its process group (the server runs its workers as children), then SIGKILL."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        self.log.close()
