"""SQLite (stdlib sqlite3): one file in the data dir, WAL, synchronous=FULL, busy_timeout.

BEGIN IMMEDIATE takes the write lock at the start of every write transaction, so a read followed
by a write (a request_id check, the next event seq) never races another process on the same file.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from service.server.store.backend import Backend
from service.server.store.sql import Store

_BLOB_WRITE_BYTES = 8 * 2**20


def _switch_to_wal(db: sqlite3.Connection, timeout: float = 10.0) -> None:
    """The first switch of a new file to WAL can answer "locked" at once, without the busy handler,
    while another process or thread opens the same file: retry for a while."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class SqliteBackend(Backend):
    types: ClassVar[dict[str, str]] = {"real": "REAL", "blob": "BLOB", "row_key": ""}  # the implicit rowid orders rows
    row_key = "rowid"
    lock_row = ""  # BEGIN IMMEDIATE already holds the database's write lock
    claim_rows = ""  # the same: one writer at a time, so a claim's read and its writes are one step
    clock = "((julianday('now') - 2440587.5) * 86400.0)"  # ms resolution; one machine, one clock
    unique_violation = sqlite3.IntegrityError

    def __init__(self, path: Path):
        self._lock = threading.Lock()  # one connection: one statement or transaction at a time
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout=10000")
        _switch_to_wal(self._db)
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")

    # Points are written through incremental blob I/O into space zeroblob() reserved: binding the
    # bytes instead makes sqlite3 copy them and SQLite copy them again into the record, a peak of
    # 2x the payload on top of the upload's own buffers.
    def points_placeholder(self, values: memoryview) -> tuple[str, object]:
        return "zeroblob(?)", values.nbytes

    def write_points(self, db: sqlite3.Connection, curve_id: str, name: str, values: memoryview) -> None:  # type: ignore[override]
        sql = "SELECT rowid FROM curve_points WHERE curve_id = ? AND name = ?"
        (rowid,) = db.execute(sql, (curve_id, name)).fetchone()
        with db.blobopen("curve_points", "data", rowid) as target:
            for start in range(0, values.nbytes, _BLOB_WRITE_BYTES):
                target.write(values[start : start + _BLOB_WRITE_BYTES])

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._begin() as db:
            yield db

    @contextmanager
    def _begin(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error:  # e.g. a full disk: leave the connection usable for the next request
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()


class SqliteStore(Store):
    def __init__(self, path: Path, *, schema_version: int | None = None):
        self.path = path
        super().__init__(SqliteBackend(path), schema_version=schema_version)
