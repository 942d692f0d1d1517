"""A server's side of job leases: its identity as a holder, the check that no live server shares
its replica id, and the loop that renews its lease and takes the jobs of servers that died.

Every `renew_seconds` the loop renews this process's lease (one row, whatever the number of jobs)
and asks the store for orphans: jobs whose holder has not renewed for `lease_seconds`. A running
orphan is marked FAILED naming the replica that died, or put back in the queue for a restart from
its start while `retries` remain; queued orphans are taken into this server's queue, as many as
its free job slots (SCALINGLAW_MAX_JOBS less what it runs and queues). So a job of a dead replica
is settled by a survivor within lease_seconds + renew_seconds of the dead replica's last renewal.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from service.server.store import Holder, HolderRow, Store, Takeover

logger = logging.getLogger(__name__)

# holders alive in this process: two servers in one process (tests) share a pid, so the pid alone
# cannot tell a live one from one stopped without releasing its row
_LIVE_HERE: set[str] = set()


class ReplicaIdInUse(RuntimeError):
    """Another live server shares this server's database and SCALINGLAW_REPLICA_ID (raised at startup)."""


@dataclass(frozen=True)
class LeasePolicy:
    renew_seconds: float = 5.0
    lease_seconds: float = 20.0
    retries: int = 0  # restarts from the start of a job whose server died or drained; 0: FAILED at once


def new_holder(replica_id: str) -> Holder:
    return Holder(uuid.uuid4().hex[:16], replica_id, socket.gethostname(), os.getpid())


async def register(store: Store, holder: Holder, policy: LeasePolicy) -> None:
    """Take up this holder's lease. A previous run of this replica (the same id, on this host, its
    process gone) is forgotten at once, so its jobs are settled now rather than when its lease
    expires; a live server with the same id is refused, as the two would take each other's jobs.
    A holder of the same id on another host is waited for until its lease expires."""
    deadline = time.monotonic() + policy.lease_seconds + policy.renew_seconds
    while True:
        others = await asyncio.to_thread(store.register_holder, holder, policy.lease_seconds)
        dead: list[HolderRow] = []
        alive: list[HolderRow] = []
        for row in others:
            (dead if _is_dead(row, holder) else alive).append(row)
        if dead:
            await asyncio.to_thread(store.forget_holders, [row.holder.token for row in dead])
        if not alive:
            _LIVE_HERE.add(holder.token)
            return
        other = alive[0]
        if other.holder.host == holder.host or time.monotonic() > deadline:
            await asyncio.to_thread(store.release_holder, holder)
            raise ReplicaIdInUse(
                f"SCALINGLAW_REPLICA_ID={holder.replica_id!r} is in use by a live server on this database "
                f"({other.holder.describe()}, lease renewed within the last {policy.lease_seconds:g} s): "
                "give each server sharing a database its own SCALINGLAW_REPLICA_ID"
            )
        logger.warning("waiting for %s's lease to expire before serving as the same replica", other.holder.describe())
        await asyncio.sleep(min(policy.renew_seconds, max(other.remaining, 0.1)))


def _is_dead(row: HolderRow, me: Holder) -> bool:
    other = row.holder
    if row.remaining <= 0:  # its jobs are anyone's already
        return True
    if other.host == me.host:  # this machine: ask the process table
        if other.token in _LIVE_HERE:
            return False
        return other.pid == me.pid or not _pid_alive(other.pid)
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def forget(holder: Holder) -> None:
    _LIVE_HERE.discard(holder.token)


async def renew_and_take(
    store: Store,
    holder: Holder,
    policy: LeasePolicy,
    free_slots: int,
    taken: Callable[[list[Takeover]], Awaitable[None]],
) -> None:
    """One pass: renew this holder's lease, then settle the orphans (queued ones up to free_slots)
    and hand what was done to `taken`. A database error is logged, not raised: the lease lasts
    several renewals, and the next pass tries again."""
    try:
        if not await asyncio.to_thread(store.renew_lease, holder, policy.lease_seconds):
            logger.warning("this server's lease had expired: other replicas may have taken its jobs")
        done = await asyncio.to_thread(store.take_orphans, holder, queued_slots=free_slots, max_retries=policy.retries)
    except Exception:
        logger.exception("renewing the job lease failed; trying again in %.1f s", policy.renew_seconds)
        return
    for item in done:
        logger.warning("job %s, left by a replica that stopped renewing its lease: %s", item.job_id, item.action)
    if done:
        await taken(done)
