"""PostgreSQL (psycopg 3): one database that every replica of the server shares.

Imported only when SCALINGLAW_DATABASE_URL names PostgreSQL, so SQLite users need no psycopg.
Connections come from a pool (psycopg_pool, SCALINGLAW_DATABASE_POOL_SIZE), so store calls from
several threads run at once; each is checked when taken, so a server restart or a dropped network
costs a reconnect, not an error. Autocommit outside explicit transactions; a write transaction locks
the job row it appends to (SELECT ... FOR UPDATE), and migrations hold a transaction-level advisory
lock.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from fitting.errors import InvalidInputError
from service.server.store.backend import Backend, Connection, DatabaseUrlError
from service.server.store.sql import Store

_MIGRATION_LOCK = 0x5CA1_1A3  # any constant: the key of the advisory lock around migrations


class PostgresBackend(Backend):
    # keyset pages follow row_key, the order keys were handed out; a page read while a transaction
    # holding a lower key is still open misses that row, as any sequence-based paging does
    types: ClassVar[dict[str, str]] = {
        "real": "DOUBLE PRECISION",
        "blob": "BYTEA",
        "row_key": "row_key BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE, ",
    }
    row_key = "row_key"
    lock_row = " FOR UPDATE"
    claim_rows = " FOR UPDATE SKIP LOCKED"  # a row another replica is claiming is passed over, never waited on
    # the server's clock, not the replicas': leases compare times written by different machines
    clock = "EXTRACT(EPOCH FROM clock_timestamp())::DOUBLE PRECISION"
    unique_violation = psycopg.errors.UniqueViolation
    # Points are stored as they come: float64 arrays barely compress, and pglz spends ~10 s on the
    # 80 MB of a regular 10M-point x (about 0.6 s uncompressed).
    after_migration: ClassVar[dict[int, tuple[str, ...]]] = {
        1: (
            "ALTER TABLE curves ALTER COLUMN x SET STORAGE EXTERNAL",
            "ALTER TABLE curves ALTER COLUMN loss SET STORAGE EXTERNAL",
        ),
        4: ("ALTER TABLE curve_points ALTER COLUMN data SET STORAGE EXTERNAL",),
    }

    def __init__(self, url: str, *, pool_size: int = 10):
        try:  # one connection first, for libpq's own reason when it fails (the pool retries silently)
            psycopg.connect(url, connect_timeout=10).close()
        except psycopg.Error as exc:  # a malformed URL, no server, no such database or role
            raise _url_error("cannot connect to", url, exc) from exc
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url, min_size=1, max_size=pool_size, kwargs={"autocommit": True, "connect_timeout": 10},
            check=ConnectionPool.check_connection, open=True, name="scalinglaw",
        )  # fmt: skip

    @contextmanager
    def connection(self) -> Iterator[_Connection]:
        with self._pool.connection() as conn:
            yield _Connection(conn)

    @contextmanager
    def transaction(self) -> Iterator[_Connection]:
        with self._pool.connection() as conn, conn.transaction():
            yield _Connection(conn)

    def lock_schema(self, db: Connection) -> None:
        db.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")

    def close(self) -> None:
        self._pool.close()


class PostgresStore(Store):
    def __init__(self, url: str, *, schema_version: int | None = None, pool_size: int = 10):
        backend = PostgresBackend(url, pool_size=pool_size)
        try:
            super().__init__(backend, schema_version=schema_version)
        except psycopg.Error as exc:  # e.g. a role that may not create tables
            backend.close()
            raise _url_error("cannot create or migrate the schema at", url, exc) from exc


class _Connection:
    """psycopg behind Store's `?` placeholders. Results come in binary, so a BYTEA arrives as the
    bytes themselves rather than as hex text twice their size."""

    def __init__(self, conn: psycopg.Connection[Any]):
        self.conn = conn

    def execute(self, sql: str, args: Any = (), /) -> psycopg.Cursor[Any]:
        for value in args:
            if isinstance(value, str) and "\x00" in value:
                raise InvalidInputError("text cannot contain NUL (U+0000) characters in this server's database")
        return self.conn.execute(_placeholders(sql), args, binary=True)


@functools.lru_cache(maxsize=256)
def _placeholders(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def _url_error(what: str, url: str, exc: psycopg.Error) -> DatabaseUrlError:
    reason = " ".join(str(exc).split())  # libpq's messages span lines
    return DatabaseUrlError(f"SCALINGLAW_DATABASE_URL: {what} {_describe(url)}: {reason}")


def _describe(url: str) -> str:
    """user@host:port/dbname, never the password."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.Error:
        return "a URL that does not parse"
    return f"{info.get('user', '')}@{info.get('host', '')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
