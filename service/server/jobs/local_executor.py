"""The `local` executor: each job in its own spawned process on the server's machine.

A crash or OOM of a job cannot take the server down, and cancel terminates the process. The job's
messages (service.server.jobs.base.JobMessage) come back over a pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import threading
import time
from collections.abc import AsyncGenerator
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from service.server.jobs.base import JobExecutor, JobMessage, RunningJob, run_job


def job_main(spec: dict[str, Any], conn: Connection) -> None:
    """The child process: the job, its messages sent over the pipe."""
    _exit_with_parent()
    run_job(spec, conn.send)
    conn.close()


class LocalExecutor(JobExecutor):
    async def check_device(self, device: str) -> None:
        if device != "cuda":  # cpu and auto run anywhere; only cuda needs torch to say whether it is here
            return
        from trainers.runner import resolve_device  # torch: its loading holds the GIL, so only when asked

        await asyncio.to_thread(resolve_device, device)

    def _launch(self, job_id: str, spec: dict[str, Any]) -> RunningJob:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe(duplex=False)
        process = ctx.Process(target=job_main, args=(spec, child), daemon=True, name=f"scalinglaw-job-{job_id}")
        process.start()
        child.close()
        return LocalJob(process, parent)


class LocalJob(RunningJob):
    def __init__(self, process: BaseProcess, conn: Connection):
        self.process = process
        self.conn = conn

    async def messages(self) -> AsyncGenerator[JobMessage, None]:
        yield ("started", f"process {self.process.pid}")  # the pid is known at once; no need to wait for the child
        # The pipe is read by a thread of this job's own: waiting in the loop's default pool, a few
        # quiet jobs would hold every thread the store calls need, and stall every RPC.
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[JobMessage | None] = asyncio.Queue()

        def pump() -> None:
            try:
                while (message := _receive(self.conn)) is not None:
                    loop.call_soon_threadsafe(inbox.put_nowait, message)
                self.process.join()
            finally:
                with contextlib.suppress(RuntimeError):  # the loop closed first: nobody is listening
                    loop.call_soon_threadsafe(inbox.put_nowait, None)

        threading.Thread(target=pump, daemon=True, name=f"{self.process.name}-pipe").start()
        try:
            while (message := await inbox.get()) is not None:
                yield message
        finally:
            self.conn.close()
        if self.process.exitcode:
            yield ("error", f"the job's process died (exit code {self.process.exitcode})")

    def terminate(self) -> None:
        self.process.terminate()


def _exit_with_parent() -> None:
    """A server killed with SIGKILL cannot stop its jobs; each job stops itself within a second
    of being orphaned instead of training on for nobody."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _receive(conn: Connection) -> JobMessage | None:
    try:
        message: JobMessage = conn.recv()
        return message
    except (EOFError, OSError):
        return None
