"""The test PostgreSQL server: its URL, and a fresh schema per test so tests never see each other.

SCALINGLAW_TEST_POSTGRES_URL names the server (default postgresql://postgres@127.0.0.1:5432/test).
Where none answers the tests skip, saying why; with SCALINGLAW_REQUIRE_POSTGRES=1 (CI) they fail.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    """The server's URL, after checking that it answers."""
    url = os.environ.get("SCALINGLAW_TEST_POSTGRES_URL") or DEFAULT_URL
    problem = _problem(url)
    if problem:
        message = f"no PostgreSQL for the tests at SCALINGLAW_TEST_POSTGRES_URL={url}: {problem}"
        if os.environ.get("SCALINGLAW_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{message} (and SCALINGLAW_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    return url


@functools.cache
def _problem(url: str) -> str:
    """Why the server cannot be used, or "" (asked once per session: a dead host costs a timeout)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    try:
        with psycopg.connect(url, connect_timeout=3):
            return ""
    except psycopg.Error as exc:
        return " ".join(str(exc).split())  # libpq's message spans lines


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A URL whose connections see one new, empty schema (by search_path); dropped afterwards."""
    import psycopg

    url = server_url()
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {name}")
    try:
        yield f"{url}{'&' if '?' in url else '?'}{urlencode({'options': f'-csearch_path={name}'})}"
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {name} CASCADE")
