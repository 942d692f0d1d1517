"""Training jobs outside the server process: the executor interface and everything executors share.

An executor only launches a job somewhere else and reads back what the job sends (`JobMessage`):

    JobExecutor                  queue served by max_jobs workers, events written to job_events,
     |                           watchers woken, cancel bookkeeping, the outcome stored
     +-- LocalExecutor           a spawned process per job, messages over a pipe (local_executor.py)
     +-- RayExecutor             a Ray task per job, messages as a streaming generator (ray_executor.py)

`run_job` is the job itself, the same in either place. When a job succeeds its curves are stored
as ordinary curves of its study and its outcome, the comparison included, is kept in its result
(results.py). Every job this server queues or runs is under its lease (leases.py): what it writes
about a job is written only while the job is still under that lease, and a server that dies has
its jobs settled by another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from service.server.jobs import leases
from service.server.jobs.leases import LeasePolicy
from service.server.jobs.results import result_to_store
from service.server.store import CurveMeta, CurvePoints, Store, Takeover
from trainers.config import RunSpec
from trainers.outcome import JobOutcome
from trainers.schedule import lr_schedule

logger = logging.getLogger(__name__)

JobMessage = tuple[Literal["started", "event", "result", "error"], Any]
"""What a running job sends, in order: ("started", where it runs), ("event", progress fields)
any number of times, then ("result", JobFinished) or ("error", reason)."""


@dataclass(frozen=True, eq=False)
class JobFinished:
    """A job's result on its way to the store: the run's outcome and its loss curves at t = 0..T
    (policy -> split -> losses), stored as curves of the job's study."""

    outcome: JobOutcome
    curves: dict[str, dict[str, list[float]]]


def run_job(spec: dict[str, Any], send: Callable[[JobMessage], None]) -> None:
    """The job, in whichever process runs it: train, send progress, then the result or the error."""
    from trainers.runner import ProgressEvent, run  # torch: only in the job's own process

    def progress(event: ProgressEvent) -> None:
        iteration = None if event.iteration is None else asdict(event.iteration)
        send(("event", {"phase": event.phase, "message": event.message, "progress": event.fraction,
                        "iteration": iteration}))  # fmt: skip

    try:
        result = run(RunSpec.from_dict(spec), progress=progress)
    except Exception as exc:  # reported to the server; the job ends FAILED with this reason
        send(("error", f"{type(exc).__name__}: {exc}"))
        return
    curves = {}
    for outcome in (result.conventional, result.optimal):
        if outcome is not None:
            c = outcome.curves
            curves[outcome.policy] = {"test": c.test.tolist(), "desired": c.desired.tolist()}
    send(("result", JobFinished(result.outcome, curves)))


class RunningJob(ABC):
    """One launched job, as the shared part of the executor sees it."""

    @abstractmethod
    def messages(self) -> AsyncGenerator[JobMessage, None]:
        """The job's messages as they arrive; ends when the job has ended, with an ("error", why)
        of the implementation's own when the job died without saying why itself."""

    @abstractmethod
    def terminate(self) -> None:
        """Stop the job now, without waiting; its messages end soon after."""


class JobExecutor(ABC):
    """Runs submitted jobs, at most max_jobs at once, and keeps job_events up to date.

    A subclass says how to launch a job (`_launch`) and may check a device before a job is
    accepted (`check_device`), and connect to and disconnect from its backend (`_open`, `_close`).
    """

    def __init__(self, store: Store, max_jobs: int, owner: str = "", lease: LeasePolicy | None = None):
        self.store = store
        self.owner = owner
        self.max_jobs = max_jobs
        self.lease = lease or LeasePolicy()
        self.holder = leases.new_holder(owner)  # this process's lease on the jobs it queues and runs
        self._keeper: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._waiting: set[str] = set()  # ids in the queue
        self._taking: set[str] = set()  # ids a worker took from the queue and has not launched yet
        self._running: dict[str, RunningJob] = {}
        self._cancelled: set[str] = set()
        # one Event per job somebody is waiting on, dropped when it fires: nothing kept per finished job
        self._changed: dict[str, asyncio.Event] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._stopped = False

    # -- what an implementation provides ----------------------------------------------------------

    @abstractmethod
    def _launch(self, job_id: str, spec: dict[str, Any]) -> RunningJob:
        """Start the job (without waiting for it to begin) and return the handle to follow it."""

    async def check_device(self, device: str) -> None:  # noqa: B027 (a hook: empty unless needed)
        """Raise InvalidInputError (field "device") when jobs on this device cannot run here."""

    async def _open(self) -> None:  # noqa: B027 (a hook: empty unless needed)
        """Connect to whatever runs the jobs."""

    async def _close(self) -> None:  # noqa: B027 (a hook: empty unless needed)
        """Disconnect from it; running jobs are already terminated."""

    # -- the shared part --------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, take up this server's lease, settle the jobs of dead servers (a previous run of
        this replica's at once) before serving, then keep the lease."""
        await self._open()
        await leases.register(self.store, self.holder, self.lease)
        self._workers = [asyncio.create_task(self._worker()) for _ in range(self.max_jobs)]
        await self._settle_orphans()
        self._keeper = asyncio.create_task(self._keep_lease())

    async def _keep_lease(self) -> None:
        """A pass every renew_seconds from the start of the last (not from its end), so a slow
        database does not stretch the renewal period towards the lease."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due = max(due + self.lease.renew_seconds, loop.time())
            await asyncio.sleep(due - loop.time())
            await self._settle_orphans()

    async def _settle_orphans(self) -> None:
        await leases.renew_and_take(self.store, self.holder, self.lease, self._free_slots(), self._taken)

    def _free_slots(self) -> int:
        """Job slots (max_jobs) neither running nor promised to a job in this server's queue."""
        return 0 if self._stopped else max(0, self.max_jobs - len(self._running) - len(self._taking) - self.queued)

    async def _taken(self, done: list[Takeover]) -> None:
        for item in done:
            if item.action == "taken" and not self._stopped:
                self._waiting.add(item.job_id)
                await self._queue.put((item.job_id, item.spec))
            await self._notify(item.job_id)

    async def stop(self) -> None:
        """The drain: running jobs are stopped (they keep no checkpoint, so they cannot finish
        within a grace period of seconds) and marked FAILED naming this replica, or put back in the
        queue for a restart from the start while retries remain; queued jobs go back to the queue
        for another replica (or this one's next start). Then this server's lease is released."""
        if self._stopped:
            return  # the server's drain stops jobs first; closing the parts stops again
        self._stopped = True
        if self._keeper is not None:
            self._keeper.cancel()
        running = list(self._running)
        queued = [j for j in self._taking if j not in self._running]  # before the workers' cancels clear it
        for job_id in running:
            self._running[job_id].terminate()
            self._cancelled.add(job_id)  # its worker must not report it again
        for task in self._workers:  # before any await, so no worker takes the next queued job
            task.cancel()
        for task in [*self._workers, *([self._keeper] if self._keeper else [])]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while not self._queue.empty():
            queued.append(self._queue.get_nowait()[0])
        await self._hand_back(running, [j for j in queued if j not in self._cancelled])
        await asyncio.to_thread(self.store.release_holder, self.holder)
        leases.forget(self.holder)
        await self._close()

    async def _hand_back(self, running: list[str], queued: list[str]) -> None:
        why = f"{self.holder.describe()} stopped"
        done = await asyncio.to_thread(
            self.store.hand_back, self.holder, running=running, queued=queued, max_retries=self.lease.retries, why=why
        )
        for item in done:
            await self._notify(item.job_id)

    @property
    def queued(self) -> int:
        """Jobs submitted here that no worker has taken yet, less those cancelled meanwhile."""
        return len(self._waiting - self._cancelled)

    async def submit(self, job_id: str, spec: dict[str, Any]) -> None:
        if self._stopped:  # accepted during the drain: it will not run here, another replica may
            await self._hand_back([], [job_id])
            return
        self._waiting.add(job_id)
        await self._queue.put((job_id, spec))

    async def cancel(self, job_id: str) -> None:
        job = await asyncio.to_thread(self.store.get_job, job_id)
        if job.done:
            return
        self._cancelled.add(job_id)
        running = self._running.get(job_id)
        if running is not None:
            running.terminate()
        await self._event(job_id, phase="cancelled", message="cancelled", progress=job.progress, state="CANCELLED",
                          replica=self.owner)  # fmt: skip

    async def wait_for_change(self, job_id: str, timeout: float = 1.0) -> None:
        changed = self._changed.setdefault(job_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)

    async def _event(self, job_id: str, **fields: Any) -> int:
        """Store an event and wake the watchers; 0 when the job had already finished."""
        seq = await asyncio.to_thread(self.store.add_job_event, job_id, **fields)
        await self._notify(job_id)
        return seq

    async def _own_event(self, job_id: str, **fields: Any) -> int:
        """An event of a job this server runs, stored only while the job is under its lease; 0 when
        the job has finished or another server took it."""
        return await self._event(job_id, replica=self.owner, holder=self.holder.token, **fields)

    async def _notify(self, job_id: str) -> None:
        changed = self._changed.pop(job_id, None)
        if changed is not None:
            changed.set()

    async def _worker(self) -> None:
        while True:
            job_id, spec = await self._queue.get()
            self._waiting.discard(job_id)
            self._taking.add(job_id)
            try:
                if job_id not in self._cancelled and await self._still_mine(job_id):
                    await self._run(job_id, spec)
                self._cancelled.discard(job_id)  # done with: the set holds only jobs in flight
            except Exception:
                logger.exception("job %s: the executor failed", job_id)
                await self._own_event(job_id, phase="failed", message="executor error", progress=0.0, state="FAILED",
                                      error="the executor failed; the server log has the details")  # fmt: skip
            finally:
                self._taking.discard(job_id)
                self._queue.task_done()

    async def _still_mine(self, job_id: str) -> bool:
        """Queued and under this server's lease: not cancelled, nor taken by another server while
        this one could not renew its lease."""
        job = await asyncio.to_thread(self.store.get_job, job_id)
        return job.state == "QUEUED" and job.holder == self.holder.token

    async def _run(self, job_id: str, spec: dict[str, Any]) -> None:
        job = self._launch(job_id, spec)
        self._running[job_id] = job  # no await since the worker's cancel check: a cancel finds it here
        self._taking.discard(job_id)
        outcome: JobMessage | None = None  # the first result or error; anything after is moot
        finished_elsewhere = asyncio.create_task(self._stop_when_finished_elsewhere(job_id, job))
        try:
            async with contextlib.aclosing(job.messages()) as messages:
                async for kind, payload in messages:
                    if kind == "started":
                        stored = await self._own_event(job_id, phase="started", message=payload, progress=0.0,
                                                       state="RUNNING")  # fmt: skip
                    elif kind == "event":
                        stored = await self._own_event(job_id, state="RUNNING", **payload)
                    else:
                        outcome = outcome or (kind, payload)
                        continue
                    if not stored:
                        job.terminate()  # finished elsewhere (cancelled through another replica), or taken
        finally:
            finished_elsewhere.cancel()
            self._running.pop(job_id, None)
        if job_id in self._cancelled:
            return
        if outcome is None or outcome[0] == "error":
            reason = outcome[1] if outcome else "the job ended without a result"
            await self._own_event(job_id, phase="failed", message=reason, progress=0.0, state="FAILED", error=reason)
            return
        await asyncio.to_thread(self._store_outcome, job_id, spec, outcome[1])  # nothing if cancelled meanwhile
        await self._notify(job_id)

    async def _stop_when_finished_elsewhere(self, job_id: str, job: RunningJob, every: float = 2.0) -> None:
        """A job cancelled through another replica sharing the database, or taken by another
        (this server's lease expired meanwhile), is stopped within `every` seconds, not only at
        its next progress event (which could not be stored: writes check the lease)."""
        while True:
            await asyncio.sleep(every)
            stored = await asyncio.to_thread(self.store.get_job, job_id)
            if stored.done or stored.holder != self.holder.token:
                job.terminate()
                return

    def _store_outcome(self, job_id: str, spec: dict[str, Any], finished: JobFinished) -> bool:
        """Curves as ordinary curves of the job's study, with the job's SUCCEEDED event, in one
        transaction; the result keeps the run's outcome (its comparison included) and their ids."""
        job = self.store.get_job(job_id)
        vocab = finished.outcome.label_space
        # the rate in force up to each logged loss: loss t follows updates 0..t-1, the last at rates[t-1]
        rates = lr_schedule(spec.get("lr_schedule", "constant"), float(spec["eta"]), int(spec["steps"]))
        curves: dict[str, tuple[CurveMeta, CurvePoints]] = {}
        for policy, splits in finished.curves.items():
            for split, values in splits.items():
                loss = np.asarray(values[1:], dtype=float)  # t = 1..T
                columns = {"lr": rates[: loss.size]} if rates.size >= loss.size else {}
                meta = CurveMeta(
                    name=f"{job_id} {policy} {split}", policy=policy, study=job.study, split=split,
                    vocab_size=vocab, request_id=f"{job_id}/{policy}/{split}", labels={"job_id": job_id},
                    extra_columns=tuple(columns),
                )  # fmt: skip
                curves[f"{policy}/{split}"] = (meta, CurvePoints(np.arange(1.0, loss.size + 1.0), loss, columns))
        return self.store.finish_job(
            job_id, curves, lambda ids: result_to_store(finished.outcome), replica=self.owner, holder=self.holder.token
        )
