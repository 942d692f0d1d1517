"""Training jobs outside the server process: the `local` executor.

Each job runs trainers.run in its own spawned process (a crash or OOM cannot take the server
down; cancel terminates it), at most max_jobs at once. Progress flows back over a pipe and is
written to job_events; watchers are woken on every event. When the job succeeds its curves are
stored as ordinary curves of its study and the comparison is kept in its result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing as mp
import os
import threading
import time
from collections import defaultdict
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from service.store import CurveMeta, CurvePoints, SqliteStore

logger = logging.getLogger(__name__)


def job_main(spec: dict[str, Any], conn: Connection) -> None:
    """The child process: run, stream progress, send the curves and the summary."""
    from trainers import RunSpec, run
    from trainers.run import ProgressEvent

    _exit_with_parent()

    def progress(event: ProgressEvent) -> None:
        iteration = None if event.iteration is None else dict(vars(event.iteration))
        payload = {"phase": event.phase, "message": event.message, "progress": event.fraction, "iteration": iteration}
        conn.send(("event", payload))

    try:
        result = run(RunSpec.from_dict(spec), progress=progress)
    except Exception as exc:  # reported to the server; the job ends FAILED with this reason
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    curves = {}
    for outcome in (result.conventional, result.optimal):
        if outcome is not None:
            c = outcome.curves
            curves[outcome.policy] = {"test": c.test.tolist(), "desired": c.desired.tolist()}
    conn.send(("result", {"summary": result.summary(), "curves": curves, "comparison": result.comparison}))
    conn.close()


class LocalExecutor:
    def __init__(self, store: SqliteStore, max_jobs: int, owner: str = ""):
        self.store = store
        self.owner = owner
        self.max_jobs = max_jobs
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._processes: dict[str, Any] = {}
        self._cancelled: set[str] = set()
        self._changed: dict[str, asyncio.Condition] = defaultdict(asyncio.Condition)
        self._workers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        interrupted = await asyncio.to_thread(self.store.fail_interrupted_jobs, self.owner)
        if interrupted:
            logger.warning("marked %d interrupted jobs FAILED", len(interrupted))
        self._workers = [asyncio.create_task(self._worker()) for _ in range(self.max_jobs)]

    async def stop(self) -> None:
        for proc in self._processes.values():
            proc.terminate()
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def submit(self, job_id: str, spec: dict[str, Any]) -> None:
        await self._queue.put((job_id, spec))

    async def cancel(self, job_id: str) -> None:
        job = await asyncio.to_thread(self.store.get_job, job_id)
        if job.done:
            return
        self._cancelled.add(job_id)
        proc = self._processes.get(job_id)
        if proc is not None:
            proc.terminate()
        await self._event(job_id, phase="cancelled", message="cancelled", progress=job.progress, state="CANCELLED")

    async def wait_for_change(self, job_id: str, timeout: float = 1.0) -> None:
        condition = self._changed[job_id]
        async with condition:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(condition.wait(), timeout)

    async def _event(self, job_id: str, **fields: Any) -> int:
        """Store an event and wake the watchers; 0 when the job had already finished."""
        seq = await asyncio.to_thread(self.store.add_job_event, job_id, **fields)
        await self._notify(job_id)
        return seq

    async def _notify(self, job_id: str) -> None:
        condition = self._changed[job_id]
        async with condition:
            condition.notify_all()

    async def _worker(self) -> None:
        while True:
            job_id, spec = await self._queue.get()
            try:
                if job_id not in self._cancelled:
                    await self._run(job_id, spec)
            except Exception:
                logger.exception("job %s: the executor failed", job_id)
                await self._event(job_id, phase="failed", message="executor error", progress=0.0, state="FAILED",
                                  error="the executor failed; the server log has the details")  # fmt: skip
            finally:
                self._queue.task_done()

    async def _run(self, job_id: str, spec: dict[str, Any]) -> None:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=job_main, args=(spec, child), daemon=True)
        proc.start()
        child.close()
        self._processes[job_id] = proc
        await self._event(job_id, phase="started", message=f"process {proc.pid}", progress=0.0, state="RUNNING")
        result: dict[str, Any] | None = None
        error = ""
        try:
            while (message := await asyncio.to_thread(_receive, parent)) is not None:
                kind, payload = message
                if kind == "event":
                    if not await self._event(job_id, state="RUNNING", **payload):
                        proc.terminate()  # finished elsewhere: cancelled through another replica
                elif kind == "result":
                    result = payload
                else:
                    error = payload
            await asyncio.to_thread(proc.join)
        finally:
            self._processes.pop(job_id, None)
            parent.close()
        if job_id in self._cancelled:
            return
        if result is None:
            reason = error or f"the job's process died (exit code {proc.exitcode})"
            await self._event(job_id, phase="failed", message=reason, progress=0.0, state="FAILED", error=reason)
            return
        await asyncio.to_thread(self._store_outcome, job_id, spec, result)
        await self._notify(job_id)

    def _store_outcome(self, job_id: str, spec: dict[str, Any], result: dict[str, Any]) -> None:
        """Curves as ordinary curves of the job's study, with the job's SUCCEEDED event, in one
        transaction; the result keeps their ids and the run's comparison."""
        job = self.store.get_job(job_id)
        summary = result["summary"]
        vocab = int(summary["label_space"])
        curves: dict[str, tuple[CurveMeta, CurvePoints]] = {}
        for policy, splits in result["curves"].items():
            for split, values in splits.items():
                loss = np.asarray(values[1:], dtype=float)  # t = 1..T
                meta = CurveMeta(
                    name=f"{job_id} {policy} {split}", policy=policy, study=job.study, split=split,
                    vocab_size=vocab, request_id=f"{job_id}/{policy}/{split}", labels={"job_id": job_id},
                )  # fmt: skip
                curves[f"{policy}/{split}"] = (meta, CurvePoints(np.arange(1.0, loss.size + 1.0), loss, {}))
        comparison = result.get("comparison")  # made by the run on the same test curves

        def result_for(ids: dict[str, str]) -> dict[str, object]:
            stored: dict[str, object] = {"summary": summary}
            if comparison is not None:
                from service.convert import comparison_to_pb

                message = comparison_to_pb(comparison, ids["conventional/test"], [ids["optimal/test"]])
                stored["comparison_pb"] = message.SerializeToString().hex()
            return stored

        self.store.finish_job(job_id, curves, result_for)


def _exit_with_parent() -> None:
    """A server killed with SIGKILL cannot stop its jobs; each job stops itself within a second
    of being orphaned instead of training on for nobody."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _receive(conn: Connection) -> tuple[str, Any] | None:
    try:
        message: tuple[str, Any] = conn.recv()
        return message
    except (EOFError, OSError):
        return None
