"""The schema, written once for every backend, and the rows it gives back as records.

Migrations are templates: {real} and {blob} are the backend's types (SQLite REAL and BLOB, PostgreSQL
DOUBLE PRECISION and BYTEA) and {row_key} its insertion-order column for keyset paging (empty on
SQLite, whose implicit rowid serves). Timestamps are ISO 8601 UTC text and JSON is text on both, so
one set of queries and converters serves both.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from service.server.store.records import CurveMeta, JobEventRecord, JobRecord, StoredCurve

SCHEMA_VERSION = 7
MIGRATIONS = {
    1: """
    CREATE TABLE curves (
        {row_key}id TEXT PRIMARY KEY,
        request_id TEXT UNIQUE,
        name TEXT NOT NULL, policy TEXT NOT NULL, study TEXT NOT NULL, split TEXT NOT NULL,
        vocab_size INTEGER NOT NULL, x_unit TEXT NOT NULL, tokens_per_step {real} NOT NULL,
        labels TEXT NOT NULL, extra_columns TEXT NOT NULL,
        n_points INTEGER NOT NULL, x_first {real} NOT NULL, x_last {real} NOT NULL, loss_last {real} NOT NULL,
        x {blob} NOT NULL, loss {blob} NOT NULL, columns {blob},
        sha256 TEXT NOT NULL, created_at TEXT NOT NULL
    );
    CREATE INDEX curves_study_policy ON curves (study, policy);
    CREATE TABLE fits (
        {row_key}id TEXT PRIMARY KEY,
        curve_id TEXT NOT NULL REFERENCES curves (id) ON DELETE CASCADE,
        options TEXT NOT NULL, result TEXT NOT NULL, created_at TEXT NOT NULL
    );
    CREATE INDEX fits_curve ON fits (curve_id);
    """,
    2: """
    CREATE TABLE jobs (
        {row_key}id TEXT PRIMARY KEY,
        request_id TEXT UNIQUE,
        study TEXT NOT NULL, spec TEXT NOT NULL, request {blob} NOT NULL,
        state TEXT NOT NULL, progress {real} NOT NULL, message TEXT NOT NULL, error TEXT NOT NULL,
        result TEXT, created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT
    );
    CREATE TABLE job_events (
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL, time TEXT NOT NULL, phase TEXT NOT NULL, message TEXT NOT NULL,
        progress {real} NOT NULL, state TEXT NOT NULL, iteration TEXT,
        PRIMARY KEY (job_id, seq)
    );
    """,
    # the replica that runs a job: on restart a replica fails only its own unfinished jobs
    3: "ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
    # Points move to their own table, one row per array, the blob last: SQLite reserves zeroblob()
    # space at the end of a record without allocating it, so a curve is written in place (peak
    # memory ~1x the payload, not 3x), and listing curves no longer pages through point data.
    4: """
    CREATE TABLE curve_points (
        curve_id TEXT NOT NULL REFERENCES curves (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        data {blob} NOT NULL,
        PRIMARY KEY (curve_id, name)
    );
    INSERT INTO curve_points (curve_id, name, data) SELECT id, 'x', x FROM curves;
    INSERT INTO curve_points (curve_id, name, data) SELECT id, 'loss', loss FROM curves;
    ALTER TABLE curves DROP COLUMN x;
    ALTER TABLE curves DROP COLUMN loss
    """,
    # re-uploads of the same points into a study are found by the content hash every curve has
    5: "CREATE INDEX curves_study_sha256 ON curves (study, sha256)",
    # a bootstrapped fit's resamples (n_bootstrap x parameters, little-endian doubles, the law's
    # parameter order), so what is planned or predicted from a stored fit has its intervals
    6: "ALTER TABLE fits ADD COLUMN samples {blob}",
    # Job leases: each server process (a holder) renews its row in replicas; a job belongs to the
    # holder named in jobs.holder, and is free to take once that row has expired or is gone.
    # attempt counts restarts; job_events.replica names the replica that wrote each event.
    7: """
    CREATE TABLE replicas (
        holder TEXT PRIMARY KEY,
        replica_id TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
        started_at {real} NOT NULL, expires {real} NOT NULL
    );
    ALTER TABLE jobs ADD COLUMN holder TEXT NOT NULL DEFAULT '';
    ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE job_events ADD COLUMN replica TEXT NOT NULL DEFAULT '';
    CREATE INDEX jobs_state ON jobs (state)
    """,
}


def migration_statements(version: int, types: dict[str, str]) -> list[str]:
    return [s.strip() for s in MIGRATIONS[version].format(**types).split(";") if s.strip()]


# Named columns, never `SELECT *`: listing curves must not read their points, and the backends'
# tables differ by the paging column.
CURVE_COLUMNS = (
    "id, request_id, name, policy, study, split, vocab_size, x_unit, tokens_per_step, labels, extra_columns,"
    " n_points, x_first, x_last, loss_last, sha256, created_at"
)
CURVE_INSERT = (
    "INSERT INTO curves (id, request_id, name, policy, study, split, vocab_size, x_unit, tokens_per_step,"
    " labels, extra_columns, n_points, x_first, x_last, loss_last, columns, sha256, created_at)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
# {data}: how a backend binds the array ("?" with its bytes, or its own expression)
POINTS_INSERT = "INSERT INTO curve_points (curve_id, name, data) VALUES (?, ?, {data})"
JOB_COLUMNS = (
    "id, request_id, study, spec, request, state, progress, message, error, result, created_at, started_at, finished_at"
)
# what a job row gives back: JOB_COLUMNS (as versions 2-5 wrote them) and who holds it (version 6)
JOB_SELECT = f"{JOB_COLUMNS}, owner, holder, attempt"
JOB_INSERT = (
    "INSERT INTO jobs (id, request_id, study, spec, request, state, progress, message, error, result,"
    " created_at, started_at, finished_at, owner, holder) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
EVENT_COLUMNS = "seq, time, phase, message, progress, state, iteration, replica"
EVENT_INSERT = f"INSERT INTO job_events (job_id, {EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)"


def curve_from_row(row: tuple[Any, ...]) -> StoredCurve:
    (cid, request_id, name, policy, study, split, vocab, x_unit, tps, labels, extra) = row[:11]
    (n, x_first, x_last, loss_last, sha, created) = row[11:]
    meta = CurveMeta(
        name=name, policy=policy, study=study, split=split, vocab_size=vocab, x_unit=x_unit,
        tokens_per_step=tps, request_id=request_id or "", extra_columns=tuple(json.loads(extra)),
        labels=json.loads(labels),
    )  # fmt: skip
    return StoredCurve(cid, meta, n, x_first, x_last, loss_last, sha, datetime.fromisoformat(created))


def job_from_row(row: tuple[Any, ...]) -> JobRecord:
    base, (owner, holder, attempt) = row[:13], row[13:]  # JOB_COLUMNS, then JOB_SELECT's lease columns
    (jid, request_id, study, spec, request, state, progress, message, error, result, created, started, finished) = base

    def when(v: str | None) -> datetime | None:
        return datetime.fromisoformat(v) if v else None

    return JobRecord(
        jid, request_id or "", study, json.loads(spec), request, state, progress, message, error,
        json.loads(result) if result else None, datetime.fromisoformat(created), when(started), when(finished),
        owner, holder, int(attempt),
    )  # fmt: skip


def event_from_row(row: tuple[Any, ...]) -> JobEventRecord:
    seq, time, phase, message, progress, state, iteration, replica = row
    return JobEventRecord(
        seq, datetime.fromisoformat(time), phase, message, progress, state,
        json.loads(iteration) if iteration else None, replica,
    )  # fmt: skip
