"""What differs between the databases behind Store: the connection, how a transaction begins, the
placeholder style, DDL types, row locks, the paging column and the unique-violation error.

Everything else (every query, every rule) is Store's, in service/server/store/sql.py. SQLite's backend
holds one connection and a lock (SQLite has one writer anyway); PostgreSQL's a pool of connections,
so store calls from several threads run at once. Replicas of the server share the database, and its
own locking keeps them consistent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Protocol


class DatabaseUrlError(RuntimeError):
    """SCALINGLAW_DATABASE_URL names no database this server can use (raised at startup)."""


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """Executes SQL with `?` placeholders (a backend translates them where its driver differs)."""

    def execute(self, sql: str, args: Any = ..., /) -> Cursor: ...


class Backend(ABC):
    types: ClassVar[dict[str, str]]  # the {real}, {blob} and {row_key} of schema.MIGRATIONS
    row_key: ClassVar[str]  # the column giving insertion order, for keyset paging
    lock_row: ClassVar[str]  # appended to a SELECT to lock its rows until the transaction ends
    # appended to a SELECT that claims rows: lock them, passing over rows another transaction holds
    claim_rows: ClassVar[str]
    clock: ClassVar[str]  # the database's own clock in seconds since the epoch, as an SQL expression
    unique_violation: ClassVar[type[Exception]]
    # statements run after a migration version on this backend only (storage tuning, not schema)
    after_migration: ClassVar[dict[int, tuple[str, ...]]] = {}

    @abstractmethod
    def connection(self) -> AbstractContextManager[Connection]:
        """For reads: each statement commits on its own."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Connection]:
        """All or nothing: committed when the block ends, rolled back when it raises."""

    def points_placeholder(self, values: memoryview) -> tuple[str, object]:
        """How POINTS_INSERT binds an array's bytes: the SQL for {data} and its argument."""
        return "?", values

    def write_points(self, db: Connection, curve_id: str, name: str, values: memoryview) -> None:  # noqa: B027
        """After POINTS_INSERT: fill the row in place, where points_placeholder only reserved it."""

    def lock_schema(self, db: Connection) -> None:  # noqa: B027  (a no-op unless the backend needs it)
        """Called first in the migration transaction: replicas starting at once migrate one by one."""

    @abstractmethod
    def close(self) -> None: ...
