"""Store: curves, fits, jobs and job events, in SQL that SQLite and PostgreSQL both run.

Every write is one transaction, so a failed request leaves nothing half-written; a job's curves
and its SUCCEEDED event are one transaction too. Replicas of the server may share one database:
a request_id that two of them insert at once ends as one row (the loser re-reads and answers as a
retry would), and an event appended to a job locks the job's row, so seqs stay contiguous. Which
server holds a job, and the takeover of jobs whose server died, are JobLeases' (leases.py).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np

from fitting.errors import AlreadyExistsError, InvalidInputError, LimitExceededError, NotFoundError
from service.server.store.backend import Backend, Connection
from service.server.store.leases import JobLeases
from service.server.store.records import (
    TERMINAL_STATES,
    CurveMeta,
    CurvePoints,
    JobEventRecord,
    JobRecord,
    StoredCurve,
    blob,
    points_digest,
)
from service.server.store.schema import (
    CURVE_COLUMNS,
    CURVE_INSERT,
    EVENT_COLUMNS,
    EVENT_INSERT,
    JOB_INSERT,
    JOB_SELECT,
    POINTS_INSERT,
    SCHEMA_VERSION,
    curve_from_row,
    event_from_row,
    job_from_row,
    migration_statements,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
_TOKEN = re.compile(r"[0-9]{1,19}")  # a page token is the last row key served, a non-negative int64


class Store(JobLeases):
    """The service's storage. SqliteStore and PostgresStore are this class over their Backend."""

    def __init__(self, backend: Backend, *, schema_version: int | None = None):
        """schema_version: migrate only that far; older versions exist for tests of migrations."""
        self._backend = backend
        self._migrate(SCHEMA_VERSION if schema_version is None else schema_version)

    def close(self) -> None:
        self._backend.close()

    @property
    def schema_version(self) -> int:
        with self._backend.connection() as db:
            return int(db.execute("SELECT version FROM schema_version").fetchone()[0])

    def _migrate(self, target: int) -> None:
        backend = self._backend
        with backend.transaction() as db:
            backend.lock_schema(db)
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version").fetchone()
            current = row[0] if row else 0
            if current > SCHEMA_VERSION:  # a newer replica migrated first: serve on, never write the version back
                logger.warning("database schema version %d is newer than this server's %d", current, SCHEMA_VERSION)
            for version in range(current + 1, target + 1):
                for statement in migration_statements(version, backend.types):
                    db.execute(statement)
                for statement in backend.after_migration.get(version, ()):
                    db.execute(statement)
            if row is None:
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (target,))
            elif target > current:
                db.execute("UPDATE schema_version SET version = ?", (target,))

    def _write(self, work: Callable[[Connection], T]) -> T:
        """Runs work in one transaction. When another replica takes a unique key (a request_id)
        between our read and our insert, the insert fails; run once more, the read finds that row."""
        try:
            with self._backend.transaction() as db:
                return work(db)
        except self._backend.unique_violation:
            with self._backend.transaction() as db:
                return work(db)

    def _page(
        self, table: str, columns: str, filters: dict[str, str], page_size: int, page_token: str
    ) -> tuple[list[tuple[int, tuple[Any, ...]]], bool]:
        """Oldest first, keyset-paginated by the backend's row key (AIP-158): up to a page of
        (row key, row), and whether more rows follow. The token is the last key served. Empty
        filter values match everything."""
        if page_size < 0:
            raise InvalidInputError(f"must be >= 0, got {page_size}", field="page_size")
        size = min(page_size or 50, 1000)
        if page_token and not (_TOKEN.fullmatch(page_token) and int(page_token) < 2**63):
            raise InvalidInputError("not a token this server issued", field="page_token")
        key = self._backend.row_key
        query = f"SELECT {key}, {columns} FROM {table} WHERE {key} > ?"  # table, columns: ours, never input
        args: list[object] = [int(page_token or 0)]
        for column, value in filters.items():
            if value:
                query += f" AND {column} = ?"
                args.append(value)
        with self._backend.connection() as db:
            rows = db.execute(f"{query} ORDER BY {key} LIMIT ?", [*args, size + 1]).fetchall()
        return [(int(r[0]), tuple(r[1:])) for r in rows[:size]], len(rows) > size

    @staticmethod
    def _fill(
        items: list[tuple[int, R]], more: bool, size_of: Callable[[R], int] | None, max_bytes: int, what: str
    ) -> tuple[list[R], str]:
        """The page's records, cut where their sizes (size_of, as the caller will send them) would
        pass max_bytes; the token then points after the last one kept."""
        out: list[R] = []
        total = 0
        for index, (_, record) in enumerate(items):
            size = size_of(record) if size_of is not None else 0
            if size_of is not None and total + size > max_bytes:
                if not out:
                    raise LimitExceededError(
                        f"{what} {getattr(record, 'id', '')} alone is larger than one reply may be "
                        f"(max_message_bytes): it cannot be listed",
                        field="page_token",
                    )
                return out, str(items[index - 1][0])
            out.append(record)
            total += size
        return out, str(items[-1][0]) if more and items else ""

    # -- curves ---------------------------------------------------------------------------------

    def insert_curve(self, meta: CurveMeta, points: CurvePoints, *, skip_duplicate: bool = False) -> StoredCurve:
        """Store one curve in one transaction; a known request_id returns the original curve when
        the content is the same and raises AlreadyExistsError when it differs. A curve of the same
        study with the same points is named in duplicate_of; with skip_duplicate it is returned
        (skipped=True) and nothing is stored."""
        return self._write(lambda db: self._insert_curve(db, meta, points, skip_duplicate=skip_duplicate))

    def _insert_curve(
        self, db: Connection, meta: CurveMeta, points: CurvePoints, *, skip_duplicate: bool = False
    ) -> StoredCurve:
        digest = points_digest(points.x, points.loss, points.columns)
        if meta.request_id:
            row = db.execute(f"SELECT {CURVE_COLUMNS} FROM curves WHERE request_id = ?", (meta.request_id,)).fetchone()
            if row is not None:
                existing = curve_from_row(row)
                if existing.sha256 == digest and existing.meta == meta:
                    return existing
                raise AlreadyExistsError(
                    f"request_id {meta.request_id!r} was used for a different curve ({existing.id})",
                    field="request_id",
                )
        twin = db.execute(
            f"SELECT {CURVE_COLUMNS} FROM curves WHERE study = ? AND sha256 = ? ORDER BY created_at, id LIMIT 1",
            (meta.study, digest),
        ).fetchone()
        duplicate_of = str(twin[0]) if twin is not None else ""
        if twin is not None and skip_duplicate:
            return replace(curve_from_row(twin), duplicate_of=duplicate_of, skipped=True)
        curve = StoredCurve(
            id=f"c-{uuid.uuid4().hex[:16]}",
            meta=meta,
            n_points=int(points.x.size),
            x_first=float(points.x[0]),
            x_last=float(points.x[-1]),
            loss_last=float(points.loss[-1]),
            sha256=digest,
            created_at=datetime.now(UTC),
            duplicate_of=duplicate_of,
        )
        # extra columns are rare and small: JSON of hex, as bytes so both backends take them as a blob
        columns = json.dumps({k: blob(v).hex() for k, v in points.columns.items()}).encode()
        db.execute(
            CURVE_INSERT,
            (
                curve.id, meta.request_id or None, meta.name, meta.policy, meta.study, meta.split,
                meta.vocab_size, meta.x_unit, meta.tokens_per_step, json.dumps(meta.labels),
                json.dumps(list(meta.extra_columns)), curve.n_points, curve.x_first, curve.x_last,
                curve.loss_last, columns,
                digest, curve.created_at.isoformat(),
            ),
        )  # fmt: skip
        for name, values in (("x", blob(points.x)), ("loss", blob(points.loss))):
            sql, arg = self._backend.points_placeholder(values)
            db.execute(POINTS_INSERT.format(data=sql), (curve.id, name, arg))
            self._backend.write_points(db, curve.id, name, values)
        return curve

    def get_curve(self, curve_id: str) -> StoredCurve:
        with self._backend.connection() as db:
            row = db.execute(f"SELECT {CURVE_COLUMNS} FROM curves WHERE id = ?", (curve_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no curve {curve_id!r}", field="id")
        return curve_from_row(row)

    def read_points(self, curve_id: str) -> CurvePoints:
        with self._backend.transaction() as db:  # one snapshot of the curve and its arrays
            row = db.execute("SELECT columns FROM curves WHERE id = ?", (curve_id,)).fetchone()
            arrays = dict(db.execute("SELECT name, data FROM curve_points WHERE curve_id = ?", (curve_id,)).fetchall())
        if row is None or not {"x", "loss"} <= arrays.keys():  # absent, or deleted between the two reads
            raise NotFoundError(f"no curve {curve_id!r}", field="id")
        columns = {k: np.frombuffer(bytes.fromhex(v), dtype="<f8") for k, v in json.loads(row[0] or "{}").items()}
        return CurvePoints(np.frombuffer(arrays["x"], dtype="<f8"), np.frombuffer(arrays["loss"], dtype="<f8"), columns)

    def list_curves(
        self,
        *,
        study: str = "",
        policy: str = "",
        page_size: int = 50,
        page_token: str = "",
        size_of: Callable[[StoredCurve], int] | None = None,
        max_bytes: int = 0,
    ) -> tuple[list[StoredCurve], str]:
        """A page of curves; with size_of, no more than max_bytes of them by that measure."""
        filters = {"study": study, "policy": policy}
        rows, more = self._page("curves", CURVE_COLUMNS, filters, page_size, page_token)
        return self._fill([(k, curve_from_row(r)) for k, r in rows], more, size_of, max_bytes, "curve")

    def delete_curve(self, curve_id: str) -> None:
        with self._backend.transaction() as db:
            if db.execute("DELETE FROM curves WHERE id = ?", (curve_id,)).rowcount == 0:
                raise NotFoundError(f"no curve {curve_id!r}", field="id")

    # -- fits -----------------------------------------------------------------------------------

    def save_fit(
        self, curve_id: str, options: dict[str, object], result: dict[str, object], samples: np.ndarray | None = None
    ) -> str:
        return self.save_fits([(curve_id, options, result)], [samples])[0]

    def save_fits(
        self,
        fits: list[tuple[str, dict[str, object], dict[str, object]]],
        samples: Sequence[np.ndarray | None] | None = None,
    ) -> list[str]:
        """(curve_id, options, result) of one request, all in one transaction; NotFoundError, storing
        none, when a curve was deleted meanwhile. samples: each fit's bootstrap resamples (None: none)."""
        kept = [None] * len(fits) if samples is None else list(samples)
        with self._backend.transaction() as db:
            ids = []
            for index, ((curve_id, options, result), draws) in enumerate(zip(fits, kept, strict=True)):
                # the curve row locked, so a concurrent delete waits for this commit
                if (
                    db.execute(f"SELECT 1 FROM curves WHERE id = ?{self._backend.lock_row}", (curve_id,)).fetchone()
                    is None
                ):
                    raise NotFoundError(
                        f"no curve {curve_id!r} (deleted while it was fitted)", field="curve_ids", index=index
                    )
                ids.append(f"f-{uuid.uuid4().hex[:16]}")
                row = (ids[-1], curve_id, json.dumps(options), json.dumps(result, default=float), _now())
                if draws is None:  # the column left to its NULL (and to stores opened at an older version)
                    db.execute("INSERT INTO fits (id, curve_id, options, result, created_at) VALUES (?,?,?,?,?)", row)
                    continue
                blob = np.ascontiguousarray(draws, dtype="<f8").tobytes()
                db.execute(
                    "INSERT INTO fits (id, curve_id, options, result, created_at, samples) VALUES (?,?,?,?,?,?)",
                    (*row, blob),
                )
            return ids

    def get_fit(self, fit_id: str) -> tuple[str, dict[str, object]]:
        """(curve id, the fit as list_fits gives it)."""
        with self._backend.connection() as db:
            row = db.execute("SELECT curve_id, result FROM fits WHERE id = ?", (fit_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no fit {fit_id!r}", field="fit_id")
        return row[0], {"id": fit_id, **json.loads(row[1])}

    def get_fit_samples(self, fit_id: str) -> np.ndarray | None:
        """The fit's bootstrap resamples (n_bootstrap, parameters), or None: fitted without them, or
        stored before resamples were kept (schema version 6)."""
        with self._backend.connection() as db:
            row = db.execute("SELECT samples, result FROM fits WHERE id = ?", (fit_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no fit {fit_id!r}", field="fit_id")
        if row[0] is None:
            return None
        n_params = len(json.loads(row[1])["params"])
        return np.frombuffer(bytes(row[0]), dtype="<f8").reshape(-1, n_params)

    def list_fits(self, curve_id: str) -> list[dict[str, object]]:
        key = self._backend.row_key
        with self._backend.connection() as db:
            rows = db.execute(f"SELECT id, result FROM fits WHERE curve_id = ? ORDER BY {key}", (curve_id,)).fetchall()
        return [{"id": r[0], **json.loads(r[1])} for r in rows]

    # -- jobs -----------------------------------------------------------------------------------

    def create_job(
        self, *, request_id: str, study: str, spec: dict[str, object], request: bytes, owner: str = "", holder: str = ""
    ) -> tuple[JobRecord, bool]:
        """A new QUEUED job held by holder (a server process's lease; "": free for any server to take),
        or (the original, False) when request_id was already used for the same request."""

        def work(db: Connection) -> tuple[JobRecord, bool]:
            if request_id:
                row = db.execute(f"SELECT {JOB_SELECT} FROM jobs WHERE request_id = ?", (request_id,)).fetchone()
                if row is not None:
                    existing = job_from_row(row)
                    if existing.request != request:
                        raise AlreadyExistsError(
                            f"request_id {request_id!r} was used for a different job ({existing.id})",
                            field="request_id",
                        )
                    return existing, False
            jid, now = f"j-{uuid.uuid4().hex[:16]}", _now()
            db.execute(JOB_INSERT, (jid, request_id or None, study, json.dumps(spec), request, "QUEUED", 0.0,
                                    "queued", "", None, now, None, None, owner, holder))  # fmt: skip
            db.execute(EVENT_INSERT, (jid, 1, now, "queued", "queued", 0.0, "QUEUED", None, owner))
            return job_from_row(db.execute(f"SELECT {JOB_SELECT} FROM jobs WHERE id = ?", (jid,)).fetchone()), True

        return self._write(work)

    def get_job(self, job_id: str) -> JobRecord:
        with self._backend.connection() as db:
            row = db.execute(f"SELECT {JOB_SELECT} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no job {job_id!r}", field="id")
        return job_from_row(row)

    def list_jobs(
        self,
        *,
        study: str = "",
        state: str = "",
        page_size: int = 50,
        page_token: str = "",
        size_of: Callable[[JobRecord], int] | None = None,
        max_bytes: int = 0,
    ) -> tuple[list[JobRecord], str]:
        """A page of jobs; with size_of, no more than max_bytes of them by that measure."""
        rows, more = self._page("jobs", JOB_SELECT, {"study": study, "state": state}, page_size, page_token)
        return self._fill([(k, job_from_row(r)) for k, r in rows], more, size_of, max_bytes, "job")

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
        replica: str = "",
        holder: str | None = None,
    ) -> int:
        """Append an event (written by replica) and update the job row in one transaction; returns
        the event's seq, 0 when the job had already finished (a finished job takes no more events)
        or, with holder given, when the job is no longer under that holder's lease (another server
        took it: a server that lost its lease must not write on)."""
        with self._backend.transaction() as db:
            return self._append_event(db, job_id, phase=phase, message=message, progress=progress, state=state,
                                      iteration=iteration, error=error, result=result, replica=replica,
                                      holder=holder)  # fmt: skip

    def finish_job(
        self,
        job_id: str,
        curves: dict[str, tuple[CurveMeta, CurvePoints]],
        result_for: Callable[[dict[str, str]], dict[str, object]],
        *,
        replica: str = "",
        holder: str | None = None,
    ) -> bool:
        """A job's curves and its SUCCEEDED event in one transaction, so a crash stores all or none;
        result_for(curve ids by key) makes the job's result once the ids exist. False, storing
        nothing, when the job had already finished (cancelled while its outcome was on its way) or,
        with holder given, is no longer under that holder's lease."""

        def work(db: Connection) -> bool:
            if not self._writable(db, job_id, holder):  # a cancel cannot slip in before the commit
                return False
            ids = {key: self._insert_curve(db, meta, points).id for key, (meta, points) in curves.items()}
            self._append_event(db, job_id, phase="done", message="succeeded", progress=1.0, state="SUCCEEDED",
                               result={**result_for(ids), "curve_ids": ids}, replica=replica)  # fmt: skip
            return True

        return self._write(work)

    def _writable(self, db: Connection, job_id: str, holder: str | None) -> bool:
        """Whether the job takes events: unfinished and, with holder given, under its lease. The
        job's row stays locked until the transaction ends."""
        sql = f"SELECT state, holder FROM jobs WHERE id = ?{self._backend.lock_row}"
        row = db.execute(sql, (job_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no job {job_id!r}", field="id")
        return row[0] not in TERMINAL_STATES and (holder is None or row[1] == holder)

    def _append_event(
        self,
        db: Connection,
        job_id: str,
        *,
        phase: str,
        message: str,
        progress: float,
        state: str,
        iteration: dict[str, float] | None = None,
        error: str = "",
        result: dict[str, object] | None = None,
        replica: str = "",
        holder: str | None = None,
    ) -> int:
        # another replica appending waits for our commit, then sees our seq
        if not self._writable(db, job_id, holder):
            return 0  # a finished job, or one another server took, takes no more events from here
        (seq,) = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM job_events WHERE job_id = ?", (job_id,)).fetchone()
        now = _now()
        db.execute(EVENT_INSERT, (job_id, seq, now, phase, message, progress, state,
                                  json.dumps(iteration) if iteration else None, replica))  # fmt: skip
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
        with self._backend.connection() as db:
            rows = db.execute(
                f"SELECT {EVENT_COLUMNS} FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq", (job_id, after_seq)
            ).fetchall()
        return [event_from_row(r) for r in rows]


def _now() -> str:
    return datetime.now(UTC).isoformat()
