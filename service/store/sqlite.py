"""SQLite (stdlib sqlite3): one file in the data dir, WAL, synchronous=FULL, busy_timeout.

BEGIN IMMEDIATE takes the write lock at the start of every write transaction, so a read followed
by a write (a request_id check, the next event seq) never races another process on the same file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from service.store.backend import Backend
from service.store.sql import Store


class SqliteBackend(Backend):
    types: ClassVar[dict[str, str]] = {"real": "REAL", "blob": "BLOB", "row_key": ""}  # the implicit rowid orders rows
    row_key = "rowid"
    lock_row = ""  # BEGIN IMMEDIATE already holds the database's write lock
    unique_violation = sqlite3.IntegrityError

    def __init__(self, path: Path):
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute("PRAGMA foreign_keys=ON")

    def _connection(self) -> sqlite3.Connection:
        return self._db

    @contextmanager
    def _begin(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()


class SqliteStore(Store):
    def __init__(self, path: Path, *, schema_version: int | None = None):
        self.path = path
        super().__init__(SqliteBackend(path), schema_version=schema_version)
