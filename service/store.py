"""SQLite store: curves (points as little-endian float64 BLOBs, one row per curve) and fits.

WAL, synchronous=FULL, busy_timeout, one writer (a lock); every write is one transaction, so a
failed request leaves nothing half-written. The schema is versioned and migrated on open.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from fitting.errors import AlreadyExistsError, InvalidInputError, NotFoundError

SCHEMA_VERSION = 3
_MIGRATIONS = {
    1: """
    CREATE TABLE curves (
        id TEXT PRIMARY KEY,
        request_id TEXT UNIQUE,
        name TEXT NOT NULL, policy TEXT NOT NULL, study TEXT NOT NULL, split TEXT NOT NULL,
        vocab_size INTEGER NOT NULL, x_unit TEXT NOT NULL, tokens_per_step REAL NOT NULL,
        labels TEXT NOT NULL, extra_columns TEXT NOT NULL,
        n_points INTEGER NOT NULL, x_first REAL NOT NULL, x_last REAL NOT NULL, loss_last REAL NOT NULL,
        x BLOB NOT NULL, loss BLOB NOT NULL, columns BLOB,
        sha256 TEXT NOT NULL, created_at TEXT NOT NULL
    );
    CREATE INDEX curves_study_policy ON curves (study, policy);
    CREATE TABLE fits (
        id TEXT PRIMARY KEY,
        curve_id TEXT NOT NULL REFERENCES curves (id) ON DELETE CASCADE,
        options TEXT NOT NULL, result TEXT NOT NULL, created_at TEXT NOT NULL
    );
    CREATE INDEX fits_curve ON fits (curve_id);
    """,
    2: """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        request_id TEXT UNIQUE,
        study TEXT NOT NULL, spec TEXT NOT NULL, request BLOB NOT NULL,
        state TEXT NOT NULL, progress REAL NOT NULL, message TEXT NOT NULL, error TEXT NOT NULL,
        result TEXT, created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT
    );
    CREATE TABLE job_events (
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL, time TEXT NOT NULL, phase TEXT NOT NULL, message TEXT NOT NULL,
        progress REAL NOT NULL, state TEXT NOT NULL, iteration TEXT,
        PRIMARY KEY (job_id, seq)
    );
    """,
    # the replica that runs a job: on restart a replica fails only its own unfinished jobs
    3: "ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
}

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


@dataclass(frozen=True, eq=False)
class CurvePoints:
    x: np.ndarray
    loss: np.ndarray
    columns: dict[str, np.ndarray]


def points_digest(x: np.ndarray, loss: np.ndarray, columns: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256(x.astype("<f8").tobytes())
    h.update(loss.astype("<f8").tobytes())
    for name in sorted(columns):
        h.update(name.encode())
        h.update(columns[name].astype("<f8").tobytes())
    return h.hexdigest()


def _blob(values: np.ndarray) -> memoryview:
    """The array's bytes as little-endian float64, without a copy when it already is one."""
    return np.ascontiguousarray(values, dtype="<f8").data.cast("B")


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _job_from_row(row: tuple[Any, ...]) -> JobRecord:
    (jid, request_id, study, spec, request, state, progress, message, error, result, created, started, finished) = row[
        :13
    ]

    def when(v: str | None) -> datetime | None:
        return datetime.fromisoformat(v) if v else None

    return JobRecord(
        jid, request_id or "", study, json.loads(spec), request, state, progress, message, error,
        json.loads(result) if result else None, datetime.fromisoformat(created), when(started), when(finished),
    )  # fmt: skip


class JobStoreMixin:
    """Jobs and their events, in the same database (methods of SqliteStore)."""

    _lock: threading.Lock
    _db: sqlite3.Connection

    def _transaction(self) -> Any: ...  # provided by SqliteStore

    def _page(
        self, table: str, filters: dict[str, str], page_size: int, page_token: str
    ) -> tuple[list[tuple[Any, ...]], str]:
        raise NotImplementedError  # provided by SqliteStore

    def _insert_curve(self, db: Any, meta: CurveMeta, points: CurvePoints) -> StoredCurve:
        raise NotImplementedError  # provided by SqliteStore

    def create_job(
        self, *, request_id: str, study: str, spec: dict[str, object], request: bytes, owner: str = ""
    ) -> tuple[JobRecord, bool]:
        """A new QUEUED job, or (the original, False) when request_id was already used for the same request."""
        with self._transaction() as db:
            if request_id:
                row = db.execute("SELECT * FROM jobs WHERE request_id = ?", (request_id,)).fetchone()
                if row is not None:
                    existing = _job_from_row(row)
                    if existing.request != request:
                        raise AlreadyExistsError(
                            f"request_id {request_id!r} was used for a different job ({existing.id})",
                            field="request_id",
                        )
                    return existing, False
            jid = f"j-{uuid.uuid4().hex[:16]}"
            db.execute(
                "INSERT INTO jobs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    jid,
                    request_id or None,
                    study,
                    json.dumps(spec),
                    request,
                    "QUEUED",
                    0.0,
                    "queued",
                    "",
                    None,
                    _now(),
                    None,
                    None,
                    owner,
                ),
            )
            db.execute(
                "INSERT INTO job_events VALUES (?,?,?,?,?,?,?,?)",
                (jid, 1, _now(), "queued", "queued", 0.0, "QUEUED", None),
            )
            return _job_from_row(db.execute("SELECT * FROM jobs WHERE id = ?", (jid,)).fetchone()), True

    def get_job(self, job_id: str) -> JobRecord:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no job {job_id!r}", field="id")
        return _job_from_row(row)

    def list_jobs(
        self, *, study: str = "", state: str = "", page_size: int = 50, page_token: str = ""
    ) -> tuple[list[JobRecord], str]:
        rows, token = self._page("jobs", {"study": study, "state": state}, page_size, page_token)
        return [_job_from_row(r) for r in rows], token

    def add_job_event(
        self,
        job_id: str,
        *,
        phase: str,
        message: str,
        progress: float,
        state: str,
        iteration: dict[str, float] | None = None,
        error: str = "",
        result: dict[str, object] | None = None,
    ) -> int:
        """Append an event and update the job row in one transaction; returns the event's seq
        (0 when the job had already finished: a finished job takes no more events)."""
        with self._transaction() as db:
            return self._append_event(db, job_id, phase=phase, message=message, progress=progress, state=state,
                                      iteration=iteration, error=error, result=result)  # fmt: skip

    def finish_job(
        self,
        job_id: str,
        curves: dict[str, tuple[CurveMeta, CurvePoints]],
        result_for: Callable[[dict[str, str]], dict[str, object]],
    ) -> None:
        """A job's curves and its SUCCEEDED event in one transaction, so a crash stores all or none;
        result_for(curve ids by key) makes the job's result once the ids exist."""
        with self._transaction() as db:
            ids = {key: self._insert_curve(db, meta, points).id for key, (meta, points) in curves.items()}
            self._append_event(db, job_id, phase="done", message="succeeded", progress=1.0, state="SUCCEEDED",
                               result={**result_for(ids), "curve_ids": ids})  # fmt: skip

    def _append_event(
        self,
        db: Any,
        job_id: str,
        *,
        phase: str,
        message: str,
        progress: float,
        state: str,
        iteration: dict[str, float] | None = None,
        error: str = "",
        result: dict[str, object] | None = None,
    ) -> int:
        current = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if current is None:
            raise NotFoundError(f"no job {job_id!r}", field="id")
        if current[0] in TERMINAL_STATES:
            return 0  # a finished job takes no more events
        seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM job_events WHERE job_id = ?", (job_id,)).fetchone()[0]
        now = _now()
        db.execute(
            "INSERT INTO job_events VALUES (?,?,?,?,?,?,?,?)",
            (job_id, seq, now, phase, message, progress, state, json.dumps(iteration) if iteration else None),
        )
        db.execute(
            "UPDATE jobs SET state = ?, progress = ?, message = ?, error = ?, result = COALESCE(?, result),"
            " started_at = COALESCE(started_at, CASE WHEN ? = 'RUNNING' THEN ? END),"
            " finished_at = CASE WHEN ? IN ('SUCCEEDED', 'FAILED', 'CANCELLED') THEN ? ELSE finished_at END"
            " WHERE id = ?",
            (state, progress, message, error, json.dumps(result, default=float) if result else None,
             state, now, state, now, job_id),
        )  # fmt: skip
        return int(seq)

    def job_events(self, job_id: str, after_seq: int = 0) -> list[JobEventRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, time, phase, message, progress, state, iteration FROM job_events"
                " WHERE job_id = ? AND seq > ? ORDER BY seq",
                (job_id, after_seq),
            ).fetchall()
        return [
            JobEventRecord(
                r[0], datetime.fromisoformat(r[1]), r[2], r[3], r[4], r[5], json.loads(r[6]) if r[6] else None
            )
            for r in rows
        ]

    def fail_interrupted_jobs(self, owner: str = "") -> list[str]:
        """On start: jobs this replica (owner) left QUEUED or RUNNING end FAILED("interrupted")."""
        with self._lock:
            ids = [r[0] for r in self._db.execute(
                "SELECT id FROM jobs WHERE state IN ('QUEUED', 'RUNNING') AND owner = ?", (owner,))]  # fmt: skip
        for jid in ids:
            self.add_job_event(jid, phase="failed", message="interrupted", progress=0.0, state="FAILED",
                               error="interrupted: the server stopped while the job was queued or running")  # fmt: skip
        return ids


class SqliteStore(JobStoreMixin):
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version").fetchone()
            current = row[0] if row else 0
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in _split(_MIGRATIONS[version]):
                    db.execute(statement)
            if row is None:
                db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
            else:
                db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))

    # -- curves ---------------------------------------------------------------------------------

    def insert_curve(self, meta: CurveMeta, points: CurvePoints) -> StoredCurve:
        """Store one curve in one transaction; a known request_id returns the original curve when
        the content is the same and raises AlreadyExistsError when it differs."""
        with self._transaction() as db:
            return self._insert_curve(db, meta, points)

    def _insert_curve(self, db: Any, meta: CurveMeta, points: CurvePoints) -> StoredCurve:
        digest = points_digest(points.x, points.loss, points.columns)
        if meta.request_id:
            row = db.execute("SELECT * FROM curves WHERE request_id = ?", (meta.request_id,)).fetchone()
            if row is not None:
                existing = _curve_from_row(row)
                if existing.sha256 == digest and existing.meta == meta:
                    return existing
                raise AlreadyExistsError(
                    f"request_id {meta.request_id!r} was used for a different curve ({existing.id})",
                    field="request_id",
                )
        curve = StoredCurve(
            id=f"c-{uuid.uuid4().hex[:16]}",
            meta=meta,
            n_points=int(points.x.size),
            x_first=float(points.x[0]),
            x_last=float(points.x[-1]),
            loss_last=float(points.loss[-1]),
            sha256=digest,
            created_at=datetime.now(UTC),
        )
        columns = json.dumps({k: v.astype("<f8").tobytes().hex() for k, v in points.columns.items()})
        db.execute(
            "INSERT INTO curves VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                curve.id, meta.request_id or None, meta.name, meta.policy, meta.study, meta.split,
                meta.vocab_size, meta.x_unit, meta.tokens_per_step, json.dumps(meta.labels),
                json.dumps(list(meta.extra_columns)), curve.n_points, curve.x_first, curve.x_last,
                curve.loss_last, _blob(points.x), _blob(points.loss), columns,
                digest, curve.created_at.isoformat(),
            ),
        )  # fmt: skip
        return curve

    def get_curve(self, curve_id: str) -> StoredCurve:
        with self._lock:
            row = self._db.execute("SELECT * FROM curves WHERE id = ?", (curve_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no curve {curve_id!r}", field="id")
            return _curve_from_row(row)

    def read_points(self, curve_id: str) -> CurvePoints:
        with self._lock:
            row = self._db.execute("SELECT x, loss, columns FROM curves WHERE id = ?", (curve_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no curve {curve_id!r}", field="id")
        columns = {k: np.frombuffer(bytes.fromhex(v), dtype="<f8") for k, v in json.loads(row[2] or "{}").items()}
        return CurvePoints(np.frombuffer(row[0], dtype="<f8"), np.frombuffer(row[1], dtype="<f8"), columns)

    def list_curves(
        self, *, study: str = "", policy: str = "", page_size: int = 50, page_token: str = ""
    ) -> tuple[list[StoredCurve], str]:
        rows, token = self._page("curves", {"study": study, "policy": policy}, page_size, page_token)
        return [_curve_from_row(r) for r in rows], token

    def _page(
        self, table: str, filters: dict[str, str], page_size: int, page_token: str
    ) -> tuple[list[tuple[Any, ...]], str]:
        """Oldest first, keyset-paginated by rowid (AIP-158); the token is the last rowid served.
        Empty filter values match everything."""
        if page_size < 0:
            raise InvalidInputError(f"must be >= 0, got {page_size}", field="page_size")
        size = min(page_size or 50, 1000)
        try:
            after = int(page_token) if page_token else 0
        except ValueError as exc:
            raise InvalidInputError("not a token this server issued", field="page_token") from exc
        query = f"SELECT rowid, * FROM {table} WHERE rowid > ?"  # table: one of ours, never user input
        args: list[object] = [after]
        for column, value in filters.items():
            if value:
                query += f" AND {column} = ?"
                args.append(value)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY rowid LIMIT ?", [*args, size + 1]).fetchall()
        token = str(rows[size - 1][0]) if len(rows) > size else ""
        return [tuple(r[1:]) for r in rows[:size]], token

    def delete_curve(self, curve_id: str) -> None:
        with self._transaction() as db:
            if db.execute("DELETE FROM curves WHERE id = ?", (curve_id,)).rowcount == 0:
                raise NotFoundError(f"no curve {curve_id!r}", field="id")

    # -- fits -----------------------------------------------------------------------------------

    def save_fit(self, curve_id: str, options: dict[str, object], result: dict[str, object]) -> str:
        fit_id = f"f-{uuid.uuid4().hex[:16]}"
        with self._transaction() as db:
            db.execute(
                "INSERT INTO fits VALUES (?,?,?,?,?)",
                (
                    fit_id,
                    curve_id,
                    json.dumps(options),
                    json.dumps(result, default=float),
                    datetime.now(UTC).isoformat(),
                ),
            )
        return fit_id

    def list_fits(self, curve_id: str) -> list[dict[str, object]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, result FROM fits WHERE curve_id = ? ORDER BY rowid", (curve_id,)
            ).fetchall()
        return [{"id": r[0], **json.loads(r[1])} for r in rows]


def _split(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _curve_from_row(row: tuple[Any, ...]) -> StoredCurve:
    (cid, request_id, name, policy, study, split, vocab, x_unit, tps, labels, extra, n) = row[:12]
    (x_first, x_last, loss_last, _x, _loss, _columns, sha, created) = row[12:]
    meta = CurveMeta(
        name=name, policy=policy, study=study, split=split, vocab_size=vocab, x_unit=x_unit,
        tokens_per_step=tps, request_id=request_id or "", extra_columns=tuple(json.loads(extra)),
        labels=json.loads(labels),
    )  # fmt: skip
    return StoredCurve(cid, meta, n, x_first, x_last, loss_last, sha, datetime.fromisoformat(created))
