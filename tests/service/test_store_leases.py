"""Job leases in the store, on SQLite and PostgreSQL: which jobs a claim takes, what it writes, and
that no job is taken twice when replicas claim at once. A holder registered with a negative lease
is one whose lease has already expired: a replica that died."""

from __future__ import annotations

from service.server.store import Holder, Store

from .conftest import Database
from .test_store import new_job, run_at_once

DEAD = Holder("h-dead", "a", "host-a", 101)
LIVE = Holder("h-live", "b", "host-b", 202)
OTHER = Holder("h-other", "c", "host-c", 303)


def start(store: Store, job_id: str, holder: Holder) -> None:
    assert store.add_job_event(job_id, phase="started", message="", progress=0.2, state="RUNNING", holder=holder.token)


def test_a_live_holders_jobs_are_never_taken(store: Store) -> None:
    store.register_holder(LIVE, 60)
    running, queued = new_job(store, owner="b", holder=LIVE.token), new_job(store, owner="b", holder=LIVE.token)
    start(store, running, LIVE)
    assert store.take_orphans(OTHER, queued_slots=10, max_retries=3) == []
    assert {store.get_job(j).holder for j in (running, queued)} == {LIVE.token}


def test_a_dead_replicas_running_job_fails_naming_it_and_its_queued_ones_move(store: Store) -> None:
    store.register_holder(DEAD, -1)
    store.register_holder(LIVE, 60)
    running = new_job(store, owner="a", holder=DEAD.token)
    queued = [new_job(store, owner="a", holder=DEAD.token) for _ in range(3)]
    start(store, running, DEAD)
    taken = store.take_orphans(LIVE, queued_slots=2, max_retries=0)
    assert [(t.job_id, t.action) for t in taken] == [(running, "failed"), (queued[0], "taken"), (queued[1], "taken")]
    failed = store.get_job(running)
    assert failed.state == "FAILED" and failed.error.startswith("interrupted: replica 'a' (pid 101 on host-a)")
    assert "stopped renewing its lease" in failed.error and "marked FAILED by replica 'b'" in failed.error
    events = store.job_events(running)
    assert [e.seq for e in events] == [1, 2, 3] and (events[-1].replica, events[-1].state) == ("b", "FAILED")
    moved = store.get_job(queued[0])
    assert (moved.state, moved.owner, moved.holder) == ("QUEUED", "b", LIVE.token)
    assert store.job_events(queued[0])[-1].phase == "moved" and "replica 'a'" in moved.message
    assert store.get_job(queued[2]).holder == DEAD.token  # no slot left: it waits for the next claim
    assert [t.job_id for t in store.take_orphans(LIVE, queued_slots=5, max_retries=0)] == [queued[2]]


def test_a_retried_job_restarts_until_its_attempts_are_spent(store: Store) -> None:
    store.register_holder(DEAD, -1)
    job = new_job(store, owner="a", holder=DEAD.token)
    start(store, job, DEAD)
    taken = store.take_orphans(LIVE, queued_slots=1, max_retries=1)
    assert [t.action for t in taken] == ["requeued", "taken"]  # back in the queue, then into the taker's
    retried = store.get_job(job)
    assert (retried.state, retried.attempt, retried.holder) == ("QUEUED", 1, LIVE.token)
    assert [e.phase for e in store.job_events(job)] == ["queued", "started", "retry", "moved"]
    assert "attempt 2 of 2" in store.job_events(job)[2].message
    start(store, job, LIVE)
    store.register_holder(LIVE, -1)  # the taker dies too
    store.register_holder(OTHER, 60)
    assert [t.action for t in store.take_orphans(OTHER, queued_slots=1, max_retries=1)] == ["failed"]
    assert "after 2 attempts" in store.get_job(job).error


def test_a_server_that_lost_its_lease_can_no_longer_write_to_the_job(store: Store) -> None:
    store.register_holder(DEAD, -1)
    job = new_job(store, owner="a", holder=DEAD.token)
    start(store, job, DEAD)
    store.take_orphans(LIVE, queued_slots=1, max_retries=1)
    late = {"phase": "search", "message": "late", "progress": 0.5, "state": "RUNNING"}
    assert store.add_job_event(job, holder=DEAD.token, **late) == 0
    assert store.finish_job(job, {}, lambda ids: {}, holder=DEAD.token) is False
    assert store.get_job(job).state == "QUEUED" and store.add_job_event(job, holder=LIVE.token, **late) > 0


def test_a_drain_hands_queued_jobs_back_and_fails_running_ones(store: Store) -> None:
    store.register_holder(DEAD, 60)
    running, queued = new_job(store, owner="a", holder=DEAD.token), new_job(store, owner="a", holder=DEAD.token)
    start(store, running, DEAD)
    why = "replica 'a' stopped"
    done = store.hand_back(DEAD, running=[running], queued=[queued], max_retries=0, why=why)
    assert [(t.job_id, t.action) for t in done] == [(running, "failed"), (queued, "requeued")]
    assert store.get_job(running).error.startswith("interrupted: replica 'a' stopped")
    back = store.get_job(queued)
    assert (back.state, back.holder, store.job_events(queued)[-1].phase) == ("QUEUED", "", "handed back")
    # a queued job handed back is anyone's, even while the drained server's lease runs
    assert [t.job_id for t in store.take_orphans(LIVE, queued_slots=1, max_retries=0)] == [queued]


def test_registration_reports_the_other_holders_of_the_same_replica_id(store: Store) -> None:
    store.register_holder(Holder("h-old", "a", "host-a", 7), -1)
    rows = store.register_holder(Holder("h-new", "a", "host-a", 8), 60)
    assert [(r.holder.token, r.holder.pid, r.remaining < 0) for r in rows] == [("h-old", 7, True)]
    store.forget_holders(["h-old"])
    assert store.register_holder(Holder("h-third", "a", "host-a", 9), 60)[0].holder.token == "h-new"


def test_three_replicas_claiming_at_once_never_take_a_job_twice(db: Database) -> None:
    replicas = [db.open() for _ in range(3)]
    replicas[0].register_holder(DEAD, -1)
    claimers = [Holder(f"h-{i}", f"r{i}", "host", i) for i in range(3)]
    for replica, holder in zip(replicas, claimers, strict=True):
        replica.register_holder(holder, 60)
    for _ in range(3):  # the race is likely, not certain, on each round
        jobs = [new_job(replicas[0], owner="a", holder=DEAD.token) for _ in range(12)]
        taken, errors = run_at_once(3, lambda i: replicas[i].take_orphans(claimers[i], queued_slots=12, max_retries=0))
        assert errors == []
        ids = [t.job_id for batch in taken for t in batch]
        assert sorted(ids) == sorted(jobs), "a job was taken twice or not at all"
        for batch, holder in zip(taken, claimers, strict=True):
            assert all(replicas[0].get_job(t.job_id).holder == holder.token for t in batch)
            for t in batch:
                assert [e.phase for e in replicas[0].job_events(t.job_id)] == ["queued", "moved"]
