"""Helpers for tests on real processes: the server (service.cli.server_process.ServerProcess), liveness."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from service.cli.server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


Spawn = Callable[..., ServerProcess]
