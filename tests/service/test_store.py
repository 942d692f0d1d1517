"""One battery of store tests, run against SQLite and against PostgreSQL (real databases, no mocks).

Each test gets a fresh database: a temporary SQLite file, or a new PostgreSQL schema. `db.open()`
opens another store on the same database, as a second replica of the server would.
"""

from __future__ import annotations

import concurrent.futures
import json
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pytest

from fitting.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from service.server.store import (
    SCHEMA_VERSION,
    CurveMeta,
    CurvePoints,
    DatabaseUrlError,
    Holder,
    SqliteStore,
    Store,
    open_store,
)
from service.server.store.schema import JOB_COLUMNS
from service.settings import Settings

from .conftest import Database
from .integrations import require
from .postgres import fresh_schema, server_url


def points(n: int = 5, scale: float = 1.0, columns: dict[str, np.ndarray] | None = None) -> CurvePoints:
    x = np.arange(1.0, n + 1.0)
    return CurvePoints(x, scale / x, columns or {})


def bits(values: np.ndarray) -> list[int]:
    return np.asarray(values, dtype="<f8").view("<u8").tolist()


# -- curves -------------------------------------------------------------------------------------


def test_points_and_metadata_come_back_exactly(store: Store) -> None:
    awkward = np.array([5e-324, -0.0, 1.7976931348623157e308, np.nextafter(1.0, 2.0), 1 / 3, np.pi])
    x = np.sort(np.random.default_rng(0).uniform(1, 1e12, awkward.size))
    meta = CurveMeta(name="n", policy="p", study="s", split="test", vocab_size=5000, x_unit="tokens",
                     tokens_per_step=2048.5, request_id="r", extra_columns=("N",),
                     labels={"lr": "3e-4", "é": "ü"})  # fmt: skip
    stored = store.insert_curve(meta, CurvePoints(x, awkward, {"N": x * 2}))
    assert store.get_curve(stored.id) == stored
    assert (stored.n_points, stored.x_first, stored.x_last, stored.loss_last) == (6, x[0], x[-1], np.pi)
    back = store.read_points(stored.id)
    assert bits(back.x) == bits(x) and bits(back.loss) == bits(awkward) and bits(back.columns["N"]) == bits(x * 2)
    assert back.x.dtype == np.dtype("<f8") and list(back.columns) == ["N"]


def test_unknown_curve_is_not_found(store: Store) -> None:
    for action in (store.get_curve, store.read_points, store.delete_curve):
        with pytest.raises(NotFoundError):
            action("c-missing")


def test_same_request_id_returns_the_original_and_different_content_conflicts(store: Store) -> None:
    meta = CurveMeta(name="a", request_id="run-7")
    first = store.insert_curve(meta, points())
    assert store.insert_curve(meta, points()) == first
    with pytest.raises(AlreadyExistsError) as err:
        store.insert_curve(meta, points(scale=2.0))  # other points
    assert err.value.field == "request_id" and first.id in str(err.value)
    with pytest.raises(AlreadyExistsError):
        store.insert_curve(CurveMeta(name="b", request_id="run-7"), points())  # other header
    assert [c.id for c in store.list_curves()[0]] == [first.id]


def test_pages_follow_insertion_order_under_filters(store: Store) -> None:
    ids = [
        store.insert_curve(CurveMeta(study="a" if i < 5 else "b", policy=f"p{i % 2}"), points()).id for i in range(7)
    ]
    seen, token = [], ""
    while True:
        page, token = store.list_curves(page_size=3, page_token=token)
        seen += [c.id for c in page]
        if not token:
            break
    assert seen == ids
    page, token = store.list_curves(study="a", policy="p0", page_size=2)
    assert [c.id for c in page] == [ids[0], ids[2]] and token
    page, token = store.list_curves(study="a", policy="p0", page_size=2, page_token=token)
    assert [c.id for c in page] == [ids[4]] and token == ""
    assert len(store.list_curves(page_size=0)[0]) == 7  # 0: the default size


@pytest.mark.parametrize("token", ["abc", "-1", "1e3", " 5", "5_0", "99999999999999999999", "9223372036854775808"])
def test_forged_page_tokens_are_invalid_input(store: Store, token: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        store.list_curves(page_token=token)
    assert err.value.field == "page_token"
    with pytest.raises(InvalidInputError):
        store.list_jobs(page_token=token)


def test_negative_page_size_is_invalid_input(store: Store) -> None:
    with pytest.raises(InvalidInputError) as err:
        store.list_curves(page_size=-1)
    assert err.value.field == "page_size"


def test_text_with_nul_is_kept_or_refused_never_internal(db: Database, store: Store) -> None:
    meta = CurveMeta(name="a\x00b")
    if db.kind == "sqlite":
        assert store.get_curve(store.insert_curve(meta, points()).id).meta.name == "a\x00b"
    else:  # PostgreSQL text cannot hold U+0000
        with pytest.raises(InvalidInputError):
            store.insert_curve(meta, points())
        with pytest.raises(InvalidInputError):
            store.get_curve("c-\x00")
        assert store.list_curves()[0] == []


# -- fits ---------------------------------------------------------------------------------------


def test_fits_are_kept_in_order_and_go_with_their_curve(store: Store) -> None:
    curve = store.insert_curve(CurveMeta(), points()).id
    other = store.insert_curve(CurveMeta(), points()).id
    ids = [store.save_fit(curve, {"x_min": i}, {"params": {"beta": np.float64(0.1 * i)}}) for i in range(3)]
    store.save_fit(other, {}, {})
    fits = store.list_fits(curve)
    assert [f["id"] for f in fits] == ids and fits[2]["params"] == {"beta": pytest.approx(0.2)}
    store.delete_curve(curve)
    assert store.list_fits(curve) == [] and len(store.list_fits(other)) == 1


# -- jobs ---------------------------------------------------------------------------------------


def new_job(store: Store, request_id: str = "", owner: str = "", study: str = "s", holder: str = "") -> str:
    job, created = store.create_job(
        request_id=request_id, study=study, spec={"steps": 10}, request=b"\x00req", owner=owner, holder=holder
    )
    assert created
    return job.id


def test_a_job_starts_queued_with_one_event_and_its_request(store: Store) -> None:
    job, created = store.create_job(request_id="j1", study="s", spec={"steps": 10}, request=b"\x00\xffreq")
    assert created and job.state == "QUEUED" and job.request == b"\x00\xffreq" and job.spec == {"steps": 10}
    assert [(e.seq, e.state) for e in store.job_events(job.id)] == [(1, "QUEUED")]
    assert store.get_job(job.id) == job
    with pytest.raises(NotFoundError):
        store.get_job("j-missing")


def test_same_job_request_id_returns_the_original_and_a_different_request_conflicts(store: Store) -> None:
    job, _ = store.create_job(request_id="same", study="s", spec={}, request=b"one")
    assert store.create_job(request_id="same", study="s", spec={}, request=b"one") == (job, False)
    with pytest.raises(AlreadyExistsError):
        store.create_job(request_id="same", study="s", spec={}, request=b"two")
    assert len(store.list_jobs()[0]) == 1


def test_events_are_contiguous_and_a_finished_job_takes_no_more(store: Store) -> None:
    jid = new_job(store)
    assert store.add_job_event(jid, phase="started", message="pid 1", progress=0.0, state="RUNNING") == 2
    assert store.get_job(jid).started_at is not None
    store.add_job_event(jid, phase="search", message="it 1", progress=0.5, state="RUNNING", iteration={"J": 0.25})
    assert store.add_job_event(jid, phase="failed", message="boom", progress=0.5, state="FAILED", error="boom") == 4
    assert store.add_job_event(jid, phase="late", message="", progress=1.0, state="RUNNING") == 0
    job = store.get_job(jid)
    assert (job.state, job.error, job.done) == ("FAILED", "boom", True) and job.finished_at is not None
    events = store.job_events(jid)
    assert [e.seq for e in events] == [1, 2, 3, 4] and events[2].iteration == {"J": 0.25}
    assert [e.seq for e in store.job_events(jid, after_seq=2)] == [3, 4]
    with pytest.raises(NotFoundError):
        store.add_job_event("j-missing", phase="x", message="", progress=0.0, state="RUNNING")


def test_list_jobs_filters_by_study_and_state(store: Store) -> None:
    a, b, c = new_job(store, study="x"), new_job(store, study="x"), new_job(store, study="y")
    store.add_job_event(b, phase="started", message="", progress=0.0, state="RUNNING")
    assert [j.id for j in store.list_jobs(study="x")[0]] == [a, b]
    assert [j.id for j in store.list_jobs(state="QUEUED")[0]] == [a, c]
    page, token = store.list_jobs(page_size=2)
    assert [j.id for j in page] == [a, b] and [j.id for j in store.list_jobs(page_token=token)[0]] == [c]


def job_curves() -> dict[str, tuple[CurveMeta, CurvePoints]]:
    return {f"{p}/test": (CurveMeta(policy=p, request_id=f"job/{p}/test"), points()) for p in ("conv", "opt")}


def test_finish_job_stores_curves_and_success_together_or_nothing(store: Store) -> None:
    jid = new_job(store)

    def broken(ids: dict[str, str]) -> dict[str, object]:
        raise RuntimeError("the comparison could not be serialised")

    with pytest.raises(RuntimeError):
        store.finish_job(jid, job_curves(), broken)
    assert store.list_curves()[0] == [] and [e.seq for e in store.job_events(jid)] == [1]
    assert store.get_job(jid).state == "QUEUED"
    store.finish_job(jid, job_curves(), lambda ids: {"summary": {"ar": np.float64(2.5)}, "seen": sorted(ids)})
    job = store.get_job(jid)
    stored = {c.meta.policy: c.id for c in store.list_curves()[0]}
    assert job.state == "SUCCEEDED" and job.progress == 1.0 and job.result is not None
    assert job.result["curve_ids"] == {"conv/test": stored["conv"], "opt/test": stored["opt"]}
    assert job.result["summary"] == {"ar": 2.5} and job.result["seen"] == ["conv/test", "opt/test"]
    assert [e.state for e in store.job_events(jid)] == ["QUEUED", "SUCCEEDED"]


def test_a_job_cancelled_before_its_outcome_arrives_stores_no_curves(store: Store) -> None:
    jid = new_job(store)
    store.add_job_event(jid, phase="cancelled", message="cancelled", progress=0.3, state="CANCELLED")
    assert store.finish_job(jid, job_curves(), lambda ids: {"summary": {}}) is False
    assert store.list_curves()[0] == [] and store.get_job(jid).state == "CANCELLED"
    assert store.get_job(jid).result is None


def test_the_fits_of_one_request_are_stored_together_or_not_at_all(store: Store) -> None:
    kept, deleted = (store.insert_curve(CurveMeta(name=n), points()).id for n in ("kept", "deleted"))
    store.delete_curve(deleted)  # as if deleted while it was being fitted
    with pytest.raises(NotFoundError) as err:
        store.save_fits([(kept, {}, {"n": 1}), (deleted, {}, {"n": 2})])
    assert err.value.field == "curve_ids" and err.value.index == 1
    assert store.list_fits(kept) == []
    ids = store.save_fits([(kept, {}, {"n": 1}), (kept, {}, {"n": 2})])
    assert [f["id"] for f in store.list_fits(kept)] == ids


# -- schema -------------------------------------------------------------------------------------


@pytest.mark.parametrize("old_version", [1, 2, 3])
def test_an_older_schema_is_migrated_and_keeps_its_rows(db: Database, old_version: int) -> None:
    old = db.open(schema_version=old_version)
    assert old.schema_version == old_version
    kept = points(7, columns={"tokens": np.arange(7.0)})
    old_columns = json.dumps({"tokens": kept.columns["tokens"].tobytes().hex()}).encode()
    with old._backend.transaction() as tx:  # a curve as versions 1-3 wrote it: points inside the curves row
        tx.execute(
            "INSERT INTO curves (id, request_id, name, policy, study, split, vocab_size, x_unit, tokens_per_step,"
            " labels, extra_columns, n_points, x_first, x_last, loss_last, x, loss, columns, sha256, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            ("c-old", None, "kept", "", "", "", 0, "step", 0.0, "{}", '["tokens"]', 7, 1.0, 7.0, 1 / 7,
             kept.x.tobytes(), kept.loss.tobytes(), old_columns,
             "sha", "2024-01-01T00:00:00+00:00"),
        )  # fmt: skip
    old.save_fit("c-old", {}, {"ok": True})
    curve = old.get_curve("c-old")
    if old_version == 2:  # a job as a version-2 server wrote it: no owner column yet
        with old._backend.transaction() as tx:
            tx.execute(f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       ("j-old", None, "s", "{}", b"r", "RUNNING", 0.5, "", "", None, "2024-01-01T00:00:00+00:00",
                        None, None))  # fmt: skip
    old.close()
    new = db.open()
    assert new.schema_version == SCHEMA_VERSION
    assert new.get_curve(curve.id) == curve and new.list_fits(curve.id)[0]["ok"] is True
    moved = new.read_points(curve.id)  # the points moved to curve_points (version 4), bit for bit
    assert bits(moved.x) == bits(kept.x) and bits(moved.loss) == bits(kept.loss)
    assert bits(moved.columns["tokens"]) == bits(kept.columns["tokens"])
    # a job written before leases has no holder: the first server to look settles it
    settled = new.take_orphans(Holder("h-new", "a", "host", 1), queued_slots=0, max_retries=0)
    assert [(t.job_id, t.action) for t in settled] == ([("j-old", "failed")] if old_version == 2 else [])
    jid = new_job(new, owner="a")
    assert db.open().schema_version == SCHEMA_VERSION and new.get_job(jid).state == "QUEUED"  # a no-op reopen


def test_replicas_starting_at_once_migrate_once(db: Database) -> None:
    opened, errors = run_at_once(4, lambda i: db.open())
    assert errors == [] and {s.schema_version for s in opened} == {SCHEMA_VERSION}


# -- replicas sharing one database --------------------------------------------------------------


def run_at_once(n: int, work: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """work(0..n-1) in n threads released together by a barrier."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results, errors


def test_two_replicas_inserting_one_request_id_at_once_make_one_row(db: Database) -> None:
    replicas = [db.open(), db.open()]
    for attempt in range(10):  # the race (both read "absent", both insert) is likely, not certain, per try
        rid = f"race-{attempt}"
        curves, errors = run_at_once(
            2, lambda i, rid=rid: replicas[i].insert_curve(CurveMeta(request_id=rid), points(1000))
        )
        assert errors == [] and curves[0] == curves[1]
        jobs, errors = run_at_once(
            2, lambda i, rid=rid: replicas[i].create_job(request_id=rid, study="s", spec={}, request=b"r")
        )
        assert (
            errors == [] and jobs[0][0].id == jobs[1][0].id and sorted(created for _, created in jobs) == [False, True]
        )
    assert len(replicas[0].list_curves(page_size=100)[0]) == 10
    assert len(replicas[1].list_jobs(page_size=100)[0]) == 10


def test_two_replicas_appending_events_at_once_keep_seqs_contiguous(db: Database) -> None:
    replicas = [db.open(), db.open()]
    jid = new_job(replicas[0])

    def append(i: int) -> list[int]:
        return [replicas[i].add_job_event(jid, phase="search", message=f"{i}", progress=0.5, state="RUNNING")
                for _ in range(25)]  # fmt: skip

    seqs, errors = run_at_once(2, append)
    assert errors == [] and sorted(seqs[0] + seqs[1]) == list(range(2, 52))
    assert [e.seq for e in replicas[1].job_events(jid)] == list(range(1, 52))


# -- opening by settings ------------------------------------------------------------------------


def test_open_store_without_a_url_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=tmp_path))
    try:
        assert isinstance(store, SqliteStore) and store.path == tmp_path / "scalinglaw.sqlite3"
    finally:
        store.close()


@pytest.mark.parametrize(
    "url", ["mysql://root:hunter2@db/x", "postgresql://scalinglaw:hunter2@127.0.0.1:1/none", "postgresql://[::1"]
)
def test_an_unusable_database_url_names_the_setting_and_hides_the_password(url: str) -> None:
    require("psycopg", "postgres", switch="SCALINGLAW_REQUIRE_POSTGRES")
    with pytest.raises(DatabaseUrlError) as err:
        open_store(Settings(database_url=url))
    assert "SCALINGLAW_DATABASE_URL" in str(err.value) and "hunter2" not in str(err.value)


def test_a_dropped_connection_is_replaced_without_an_error() -> None:
    import psycopg

    from service.server.store.postgres import PostgresStore

    with fresh_schema() as url:
        store = PostgresStore(url, pool_size=1)
        try:
            curve = store.insert_curve(CurveMeta(), points())
            with store._backend.connection() as db:
                pid = db.conn.info.backend_pid  # type: ignore[attr-defined]
            with psycopg.connect(server_url(), autocommit=True) as admin:  # as a server restart would
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            assert store.get_curve(curve.id) == curve  # the pool checks a connection before handing it out
        finally:
            store.close()


def test_postgresql_store_calls_from_several_threads_run_at_once() -> None:
    """A transaction held open in one thread (a slow write) does not hold up reads in another:
    connections come from a pool, not one connection behind a lock."""
    from service.server.store.postgres import PostgresStore

    with fresh_schema() as url:
        store = PostgresStore(url, pool_size=2)
        try:
            curve = store.insert_curve(CurveMeta(), points())
            inside, release = threading.Event(), threading.Event()

            def hold() -> None:
                with store._backend.transaction():
                    inside.set()
                    release.wait(30)

            holder = threading.Thread(target=hold)
            holder.start()
            try:
                assert inside.wait(30)
                reader = concurrent.futures.ThreadPoolExecutor(1).submit(store.get_curve, curve.id)
                assert reader.result(timeout=10) == curve
            finally:
                release.set()
                holder.join()
        finally:
            store.close()


def test_a_schema_the_role_cannot_write_names_the_setting() -> None:
    import psycopg

    with fresh_schema() as url, psycopg.connect(server_url(), autocommit=True) as admin:
        role = f"r_{uuid.uuid4().hex[:12]}"
        admin.execute(f"CREATE ROLE {role} LOGIN")  # it may connect, and do nothing in the schema
        try:
            parts = urlsplit(url)
            as_role = urlunsplit(parts._replace(netloc=f"{role}@{parts.netloc.rsplit('@', 1)[-1]}"))
            with pytest.raises(DatabaseUrlError) as err:
                open_store(Settings(database_url=as_role, replica_id="r"))
            assert "SCALINGLAW_DATABASE_URL: cannot create or migrate the schema" in str(err.value)
        finally:
            admin.execute(f"DROP ROLE {role}")


# -- duplicates (the content hash every curve has, indexed by study from version 5) ----------------


def test_the_same_points_in_a_study_are_named_and_skipped_when_asked(store: Store) -> None:
    first = store.insert_curve(CurveMeta(name="a", study="s"), points(6))
    again = store.insert_curve(CurveMeta(name="a again", study="s"), points(6))
    assert first.duplicate_of == "" and again.duplicate_of == first.id and not again.skipped
    skipped = store.insert_curve(CurveMeta(name="a thrice", study="s"), points(6), skip_duplicate=True)
    assert skipped.skipped and skipped.id == first.id and skipped.duplicate_of == first.id
    elsewhere = store.insert_curve(CurveMeta(name="a", study="other"), points(6), skip_duplicate=True)
    other_points = store.insert_curve(CurveMeta(name="b", study="s"), points(6, scale=2.0), skip_duplicate=True)
    assert not elsewhere.skipped and elsewhere.duplicate_of == ""  # another study: not a duplicate
    assert not other_points.skipped and other_points.duplicate_of == ""
    assert [c.meta.name for c in store.list_curves(study="s")[0]] == ["a", "a again", "b"]


def test_curves_stored_before_version_5_are_found_as_duplicates(db: Database) -> None:
    old = db.open(schema_version=4)
    first = old.insert_curve(CurveMeta(name="old", study="s"), points(5))
    old.close()
    new = db.open()
    assert new.schema_version == SCHEMA_VERSION == 7
    assert new.insert_curve(CurveMeta(name="new", study="s"), points(5), skip_duplicate=True).id == first.id
