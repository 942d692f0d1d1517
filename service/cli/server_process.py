"""The server in its own process (`python -m service.server`), as users run it: for the demo, the
benchmarks and the tests that kill it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]  # so `-m service.server` imports this checkout


class ServerProcess:
    """Starts the server on port 0 with the given data dir and SCALINGLAW_* settings; the port is
    read from its "listening on" line. Its output is kept for the assertion messages."""

    def __init__(self, data_dir: Path | str, **settings: object):
        env = {**os.environ, "SCALINGLAW_PORT": "0", "SCALINGLAW_DATA_DIR": str(data_dir)}
        env.update({f"SCALINGLAW_{k.upper()}": str(v) for k, v in settings.items()})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service.server"],
            cwd=_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        self.port = self._wait_for_port(timeout=60)
        threading.Thread(target=self._drain, daemon=True).start()  # a full pipe would block the server

    def _wait_for_port(self, timeout: float) -> int:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None:
                break
            self.output.append(line)
            if "listening on" in line:
                return int(line.rsplit(":", 1)[1])
        self.kill()
        raise AssertionError("the server did not start:\n" + "".join(self.output))

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: no handler runs, as when the machine or the OOM killer takes the process."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def terminate(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)
