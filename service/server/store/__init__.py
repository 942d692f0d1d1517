"""The service's storage: curves (points as little-endian float64 blobs, one row per curve), fits,
training jobs and their events, behind one Store whatever the database.

    records.py   the frozen records the store takes and gives
    schema.py    the versioned schema (migrated on open), columns and row converters
    sql.py       Store: every query and rule, once
    leases.py    which server process holds which job, and the takeover of a dead one's jobs
    backend.py   what a database must supply (connection, transaction, dialect)
    sqlite.py    SQLite in the data dir (the default)
    postgres.py  PostgreSQL at SCALINGLAW_DATABASE_URL, shared by replicas (needs the postgres extra)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from service.server.store.backend import DatabaseUrlError
from service.server.store.leases import Holder, HolderRow, Takeover, describe_replica
from service.server.store.records import (
    TERMINAL_STATES,
    CurveMeta,
    CurvePoints,
    JobEventRecord,
    JobRecord,
    StoredCurve,
    points_digest,
)
from service.server.store.schema import SCHEMA_VERSION
from service.server.store.sql import Store
from service.server.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from service.settings import Settings

__all__ = [
    "SCHEMA_VERSION",
    "TERMINAL_STATES",
    "CurveMeta",
    "CurvePoints",
    "DatabaseUrlError",
    "Holder",
    "HolderRow",
    "JobEventRecord",
    "JobRecord",
    "SqliteStore",
    "Store",
    "StoredCurve",
    "Takeover",
    "describe_replica",
    "open_store",
    "points_digest",
]

logger = logging.getLogger(__name__)
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_store(settings: Settings) -> Store:
    """SQLite in settings.data_dir, or the PostgreSQL database at settings.database_url."""
    url = settings.database_url
    if not url:
        return SqliteStore(settings.sqlite_path)
    if not url.startswith(_POSTGRES_SCHEMES):
        scheme = url.split("://", 1)[0] if "://" in url else "no scheme"  # never echo a password
        raise DatabaseUrlError(
            f"SCALINGLAW_DATABASE_URL must be postgresql://... (or empty for SQLite in the data dir), not {scheme!r}"
        )
    try:
        from service.server.store.postgres import PostgresStore
    except ImportError as exc:
        raise DatabaseUrlError(
            f"SCALINGLAW_DATABASE_URL names PostgreSQL but psycopg cannot be imported ({exc}):"
            " pip install 'scalinglaw[postgres]'"
        ) from exc
    if not settings.replica_id:
        logger.warning("SCALINGLAW_REPLICA_ID is empty: give each replica sharing the database its own")
    return PostgresStore(url, pool_size=settings.database_pool_size)
