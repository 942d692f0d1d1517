"""A real grpc.aio server on port 0 with a temporary SQLite file, run in a background event loop;
and a fresh database of each backend for the store tests (`db`, `store`)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from service.client import ScalingLawClient
from service.server.server import create_server
from service.server.store import SqliteStore, Store
from service.settings import Settings
from tests.service.postgres import fresh_schema
from tests.service.processes import ServerProcess, Spawn


@pytest.fixture
def openssl() -> None:
    """openssl makes the tests' certificates. Where it is missing the TLS tests skip, saying why;
    with SCALINGLAW_REQUIRE_OPENSSL=1 (as .ci/run sets) they fail instead."""
    if shutil.which("openssl") is None:
        message = "needs openssl on PATH to make a throwaway certificate"
        if os.environ.get("SCALINGLAW_REQUIRE_OPENSSL") == "1":
            pytest.fail(f"{message} (and SCALINGLAW_REQUIRE_OPENSSL=1)")
        pytest.skip(message)


needs_openssl = pytest.mark.usefixtures("openssl")


def self_signed_certificate(
    directory: Path, names: str = "DNS:localhost,IP:127.0.0.1", prefix: str = ""
) -> tuple[Path, Path]:
    """(cert.pem, key.pem) for `names` (subjectAltName), valid a day: a throwaway TLS identity,
    its own certificate authority. `prefix` names the files, for a second one in the directory."""
    cert, key = directory / f"{prefix}cert.pem", directory / f"{prefix}key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=scalinglaw test",
         "-addext", f"subjectAltName={names}", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


class RunningServer:
    def __init__(self, settings: Settings):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server, self.port, self.parts = self.run(create_server(settings))
        self.run(self.server.start())

    def run(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def stop(self) -> None:
        self.run(self.server.stop(grace=None))
        self.run(self.parts.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Server processes (ServerProcess) started by a test, all killed when it ends, passed or not."""
    started: list[ServerProcess] = []

    def make(data_dir: Path, **settings: object) -> ServerProcess:
        started.append(ServerProcess(data_dir, **settings))
        return started[-1]

    yield make
    for process in started:
        process.kill()


def start(tmp_path: Path, **overrides: object) -> RunningServer:
    return RunningServer(Settings(port=0, data_dir=tmp_path, **overrides))  # type: ignore[arg-type]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start(tmp_path)
    yield running
    running.stop()


@pytest.fixture
def client(server: RunningServer) -> Iterator[ScalingLawClient]:
    with ScalingLawClient(server.target, timeout=60) as c:
        yield c


class Database:
    """One fresh database of one backend; every store opened on it is closed after the test."""

    def __init__(self, kind: str, open_store: Callable[..., Store]):
        self.kind = kind
        self._open = open_store
        self.opened: list[Store] = []

    def open(self, schema_version: int | None = None) -> Store:
        store = self._open(schema_version=schema_version)
        self.opened.append(store)
        return store


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with ExitStack() as stack:
        if request.param == "sqlite":
            database = Database("sqlite", lambda **kw: SqliteStore(tmp_path / "store.sqlite3", **kw))
        else:
            from service.server.store.postgres import PostgresStore

            url = stack.enter_context(fresh_schema())
            database = Database("postgres", lambda **kw: PostgresStore(url, **kw))
        yield database
        for store in database.opened:  # before the schema is dropped
            store.close()


@pytest.fixture
def store(db: Database) -> Store:
    return db.open()
