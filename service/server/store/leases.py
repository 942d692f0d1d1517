"""Job leases in the database: which server process holds which job, and the atomic takeover of
jobs whose holder stopped renewing.

Each server process is a *holder*: a row in `replicas` that it renews every few seconds
(`expires`, by the database's clock, so the replicas' own clocks never matter). A QUEUED or
RUNNING job names its holder in `jobs.holder`; its lease is that row, so one write per server and
interval renews every job it holds. A job whose holder's row has expired, or is gone, is an
orphan: `take_orphans` claims orphans in one transaction, with `SELECT ... FOR UPDATE SKIP LOCKED`
on PostgreSQL (a row another replica is claiming is passed over) and inside SQLite's
BEGIN IMMEDIATE (one writer at a time), and each claimed row is updated only where it still names
the holder it was read with, so no job is ever taken twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from service.server.store.backend import Backend, Connection
from service.server.store.schema import JOB_SELECT, job_from_row

# the live holders read once per query (a hashed subplan on PostgreSQL), not probed once per job
_ORPHAN = "holder <> ? AND holder NOT IN (SELECT holder FROM replicas WHERE expires > {clock})"
_PRUNE_AFTER = 3600.0  # seconds a dead holder's row is kept once no unfinished job names it (for messages)
_CLAIM_BATCH = 100  # running orphans settled per transaction; the rest wait for the next pass


@dataclass(frozen=True)
class Holder:
    """A server process that holds job leases: its unique token, its replica id and where it runs."""

    token: str
    replica_id: str
    host: str
    pid: int

    def describe(self) -> str:
        return describe_replica(self.replica_id, self.host, self.pid)


@dataclass(frozen=True)
class HolderRow:
    """Another holder's row as registration finds it: seconds left on its lease (<= 0: expired)."""

    holder: Holder
    remaining: float


@dataclass(frozen=True)
class Takeover:
    """What a claim did to one job: failed it, put it back in the queue for a retry (unheld, for
    any server to start), or took it into this server's queue (taken)."""

    job_id: str
    action: Literal["failed", "requeued", "taken"]
    spec: dict[str, Any]


def describe_replica(replica_id: str, host: str = "", pid: int = 0) -> str:
    name = f"replica {replica_id!r}" if replica_id else "the unnamed replica"
    return f"{name} (pid {pid} on {host})" if host else name


class JobLeases:
    """Store's lease methods (Store in sql.py inherits them)."""

    _backend: Backend
    _append_event: Callable[..., int]

    def register_holder(self, holder: Holder, lease_seconds: float) -> list[HolderRow]:
        """Insert this process's row, its lease running lease_seconds; return the other holders that
        carry the same replica id (a previous run of this replica, or a second server wrongly given
        the same id), for the caller to judge."""
        clock = self._backend.clock
        with self._backend.transaction() as db:
            rows = db.execute(
                f"SELECT holder, replica_id, host, pid, expires - {clock} FROM replicas"
                " WHERE replica_id = ? AND holder <> ?",
                (holder.replica_id, holder.token),
            ).fetchall()
            self._insert_holder(db, holder, lease_seconds)
        return [HolderRow(Holder(r[0], r[1], r[2], int(r[3])), float(r[4])) for r in rows]

    def renew_lease(self, holder: Holder, lease_seconds: float) -> bool:
        """Extend this process's lease (every job it holds) to lease_seconds from now; False when its
        row had expired or was gone, so other servers may have taken its jobs meanwhile."""
        clock = self._backend.clock
        with self._backend.transaction() as db:
            row = db.execute(f"SELECT expires > {clock} FROM replicas WHERE holder = ?", (holder.token,)).fetchone()
            if row is None:  # pruned as long dead: this server was cut off from the database for an hour
                self._insert_holder(db, holder, lease_seconds)
            else:
                db.execute(f"UPDATE replicas SET expires = {clock} + ? WHERE holder = ?", (lease_seconds, holder.token))
            return row is not None and bool(row[0])

    def _insert_holder(self, db: Connection, holder: Holder, lease_seconds: float) -> None:
        clock = self._backend.clock
        db.execute(
            f"INSERT INTO replicas (holder, replica_id, host, pid, started_at, expires)"
            f" VALUES (?, ?, ?, ?, {clock}, {clock} + ?)"
            " ON CONFLICT (holder) DO UPDATE SET expires = excluded.expires",
            (holder.token, holder.replica_id, holder.host, holder.pid, lease_seconds),
        )

    def forget_holders(self, tokens: Sequence[str]) -> None:
        """Drop holders known to be dead (a previous run of this replica): their jobs are orphans now."""
        with self._backend.transaction() as db:
            for token in tokens:
                db.execute("DELETE FROM replicas WHERE holder = ?", (token,))

    def release_holder(self, holder: Holder) -> None:
        """On a clean stop, after the jobs were handed back."""
        self.forget_holders([holder.token])

    def take_orphans(self, holder: Holder, *, queued_slots: int, max_retries: int) -> list[Takeover]:
        """Settle the jobs whose holder's lease expired, in one transaction: a RUNNING one is put
        back in the queue, unheld, for its next attempt while attempts remain (max_retries), else
        marked FAILED naming the replica that died; then up to queued_slots QUEUED ones (those just
        put back included) are taken into this holder's queue. Expired holder rows nobody needs any
        more are pruned."""
        backend = self._backend
        orphan = _ORPHAN.format(clock=backend.clock)
        done: list[Takeover] = []
        with backend.transaction() as db:
            running = db.execute(
                f"SELECT {JOB_SELECT} FROM jobs WHERE state = 'RUNNING' AND {orphan}"
                f" ORDER BY {backend.row_key} LIMIT {_CLAIM_BATCH}{backend.claim_rows}",
                (holder.token,),
            ).fetchall()
            dead = self._holders(db, {job_from_row(r).holder for r in running})
            for row in running:
                job = job_from_row(row)
                lost = _lost(job.owner, dead.get(job.holder))
                action = self._settle_running(db, job.id, job.holder, job.attempt, max_retries, holder, lost)
                if action is not None:
                    done.append(Takeover(job.id, action, job.spec))
            if queued_slots > 0:
                queued = db.execute(
                    f"SELECT {JOB_SELECT} FROM jobs WHERE state = 'QUEUED' AND {orphan}"
                    f" ORDER BY {backend.row_key} LIMIT ?{backend.claim_rows}",
                    (holder.token, queued_slots),
                ).fetchall()
                dead = self._holders(db, {job_from_row(r).holder for r in queued})
                for row in queued:
                    job = job_from_row(row)
                    if self._take_queued(db, job.id, job.holder, holder, job.owner, dead.get(job.holder)):
                        done.append(Takeover(job.id, "taken", job.spec))
            db.execute(
                f"DELETE FROM replicas WHERE expires < {backend.clock} - ? AND NOT EXISTS"
                " (SELECT 1 FROM jobs WHERE jobs.holder = replicas.holder AND jobs.state IN ('QUEUED', 'RUNNING'))",
                (_PRUNE_AFTER,),
            )
        return done

    def hand_back(
        self, holder: Holder, *, running: Sequence[str], queued: Sequence[str], max_retries: int, why: str
    ) -> list[Takeover]:
        """A draining server lets go of its jobs: queued ones go back to the queue, unheld, for any
        server to start; running ones (already stopped) too while attempts remain, else FAILED. Only
        jobs still under this holder's lease are touched."""
        done: list[Takeover] = []
        with self._backend.transaction() as db:
            for job_id in running:
                job = self._held(db, job_id, holder)
                if job is not None:
                    action = self._settle_running(db, job_id, holder.token, job.attempt, max_retries, holder, why)
                    if action is not None:
                        done.append(Takeover(job_id, action, job.spec))
            for job_id in queued:
                job = self._held(db, job_id, holder)
                if job is not None and job.state == "QUEUED":
                    self._requeue(db, job_id, holder.token, job.attempt, holder, phase="handed back",
                                  message=f"handed back to the queue: {why}")  # fmt: skip
                    done.append(Takeover(job_id, "requeued", job.spec))
        return done

    # -- the steps, inside a claiming transaction ---------------------------------------------------

    def _held(self, db: Connection, job_id: str, holder: Holder) -> Any:
        row = db.execute(f"SELECT {JOB_SELECT} FROM jobs WHERE id = ?{self._backend.lock_row}", (job_id,)).fetchone()
        job = None if row is None else job_from_row(row)
        return job if job is not None and job.holder == holder.token and not job.done else None

    def _holders(self, db: Connection, tokens: set[str]) -> dict[str, tuple[Holder, float]]:
        """The dead holders' rows: who they were, and seconds since their lease expired."""
        out: dict[str, tuple[Holder, float]] = {}
        for token in tokens - {""}:
            row = db.execute(
                f"SELECT replica_id, host, pid, {self._backend.clock} - expires FROM replicas WHERE holder = ?",
                (token,),
            ).fetchone()
            if row is not None:
                out[token] = (Holder(token, row[0], row[1], int(row[2])), float(row[3]))
        return out

    def _settle_running(
        self, db: Connection, job_id: str, was: str, attempt: int, max_retries: int, me: Holder, lost: str
    ) -> Literal["failed", "requeued"] | None:
        """A running job whose holder is gone: put back for its next attempt, or FAILED."""
        if attempt < max_retries:
            message = f"{lost}; restarting from the start, attempt {attempt + 2} of {max_retries + 1}"
            return (
                "requeued" if self._requeue(db, job_id, was, attempt + 1, me, phase="retry", message=message) else None
            )
        tries = f" after {attempt + 1} attempts" if max_retries else ""
        # conditional on the holder read: a job another claim settled first is left alone
        if db.execute("UPDATE jobs SET holder = '' WHERE id = ? AND holder = ?", (job_id, was)).rowcount != 1:
            return None
        self._append_event(db, job_id, phase="failed", message=f"interrupted: {lost}", progress=0.0, state="FAILED",
                           error=f"interrupted: {lost}{tries}; marked FAILED by {me.describe()}",
                           replica=me.replica_id)  # fmt: skip
        return "failed"

    def _requeue(
        self, db: Connection, job_id: str, was: str, attempt: int, me: Holder, *, phase: str, message: str
    ) -> bool:
        sql = "UPDATE jobs SET holder = '', attempt = ? WHERE id = ? AND holder = ?"
        if db.execute(sql, (attempt, job_id, was)).rowcount != 1:
            return False
        self._append_event(
            db, job_id, phase=phase, message=message, progress=0.0, state="QUEUED", replica=me.replica_id
        )
        return True

    def _take_queued(
        self, db: Connection, job_id: str, was: str, me: Holder, owner: str, dead: tuple[Holder, float] | None
    ) -> bool:
        sql = "UPDATE jobs SET holder = ?, owner = ? WHERE id = ? AND holder = ?"
        if db.execute(sql, (me.token, me.replica_id, job_id, was)).rowcount != 1:
            return False
        source = "back in the queue" if not was else _lost(owner, dead)
        self._append_event(db, job_id, phase="moved", message=f"{source}; taken by {me.describe()}", progress=0.0,
                           state="QUEUED", replica=me.replica_id)  # fmt: skip
        return True


def _lost(owner: str, dead: tuple[Holder, float] | None) -> str:
    """Why a job changes hands, naming the replica it leaves."""
    if dead is None:  # no row: a previous run of the replica that has restarted, or pruned
        return f"{describe_replica(owner)} holds no lease on it any more (it stopped or restarted)"
    holder, expired_ago = dead
    ago = max(expired_ago, 0.0)
    return f"{holder.describe()} stopped renewing its lease ({ago:.1f} s ago: it died or lost the database)"
