"""What the store keeps and hands back: frozen records, free of any database type."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

TERMINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")


@dataclass(frozen=True)
class JobRecord:
    id: str
    request_id: str
    study: str
    spec: dict[str, Any]
    request: bytes  # the StartTrainingRequest as sent, to echo back
    state: str
    progress: float
    message: str
    error: str
    result: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    owner: str = ""  # the replica (SCALINGLAW_REPLICA_ID) that holds the job, or last held it
    holder: str = ""  # the server process whose lease the job is under; "" when none holds it
    attempt: int = 0  # 0 for the first run; n for its n-th restart from the start

    @property
    def done(self) -> bool:
        return self.state in TERMINAL_STATES


@dataclass(frozen=True)
class JobEventRecord:
    seq: int
    time: datetime
    phase: str
    message: str
    progress: float
    state: str
    iteration: dict[str, float] | None
    replica: str = ""  # the replica that wrote the event


@dataclass(frozen=True)
class CurveMeta:
    """What an uploader says about a curve (the proto's CurveHeader)."""

    name: str = ""
    policy: str = ""
    study: str = ""
    split: str = ""
    vocab_size: int = 0
    x_unit: str = "step"
    tokens_per_step: float = 0.0
    request_id: str = ""
    extra_columns: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredCurve:
    id: str
    meta: CurveMeta
    n_points: int
    x_first: float
    x_last: float
    loss_last: float
    sha256: str
    created_at: datetime
    # what an insert found, never stored, so not part of the curve's identity: an earlier curve of
    # the same study with the same points, and whether the insert returned that one (skip_duplicate)
    duplicate_of: str = field(default="", compare=False)
    skipped: bool = field(default=False, compare=False)


@dataclass(frozen=True, eq=False)
class CurvePoints:
    x: np.ndarray
    loss: np.ndarray
    columns: dict[str, np.ndarray]


def points_digest(x: np.ndarray, loss: np.ndarray, columns: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256(blob(x))
    h.update(blob(loss))
    for name in sorted(columns):
        h.update(name.encode())
        h.update(blob(columns[name]))
    return h.hexdigest()


def blob(values: np.ndarray) -> memoryview:
    """The array's bytes as little-endian float64, without a copy when it already is one."""
    return np.ascontiguousarray(values, dtype="<f8").data.cast("B")
