"""Fits, comparisons and reports in worker processes of their own, never on the server's event loop.

Why processes and not threads: a thread running user-shaped maths shares the GIL with the event
loop, so a computation that holds it in one C call (a huge integer power in an expression law, for
one) freezes health checks and every other call until it ends; and a thread cannot be stopped, so a
fit whose caller cancelled or passed its deadline ran on for nobody. A worker process answers both:
the loop never waits on its GIL, and a call whose caller gives up kills its worker (a fresh one is
started when next needed). A worker may also be given a memory ceiling (RLIMIT_DATA), so a request
that needs more than its estimate ends in MemoryError -> RESOURCE_EXHAUSTED, and the kernel's OOM
killer picks a worker before the server (oom_score_adj).

    ComputePool.run(fn, *args)   await fn(*args) in an idle worker (at most `workers` at once)
     +-- _Worker                 one spawned process and the pipe to it; started on first need

What a worker raises comes back as the same domain error (field and index kept); MemoryError as
LimitExceededError; anything else as ComputeError, its traceback logged here and never sent to a
caller. fitting/ knows nothing of this: it is called with plain arguments, as in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import multiprocessing as mp
import os
import signal
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from fitting.errors import LimitExceededError, ScalingLawError

logger = logging.getLogger(__name__)
T = TypeVar("T")


class ComputeError(RuntimeError):
    """A worker failed in a way that is not the caller's input: an INTERNAL error."""


def _worker_main(conn: Connection, memory_bytes: int, parent: int, modules: tuple[str, ...]) -> None:
    """The worker process: run each (fn, args, kwargs) that arrives and send back its outcome."""
    _limit_self(memory_bytes)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    for name in modules:  # imported now, so the first call served does not pay for them
        importlib.import_module(name)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        fn, args, kwargs = task
        try:
            outcome: tuple[Any, ...] = ("ok", fn(*args, **kwargs))
        except ScalingLawError as exc:
            outcome = ("domain", type(exc), exc.message, exc.field, exc.index)
        except MemoryError:
            outcome = ("memory",)
        except BaseException:
            outcome = ("failed", traceback.format_exc())
        try:
            conn.send(outcome)
        except MemoryError:
            conn.send(("memory",))
        except Exception:  # e.g. a result that does not pickle: a bug of ours, not of the input
            conn.send(("failed", traceback.format_exc()))


def _limit_self(memory_bytes: int) -> None:
    # the kernel's OOM killer should take a worker, whose caller gets an error, before the server
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")
    if memory_bytes > 0:
        import resource

        resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))


def _exit_with_parent(parent: int) -> None:
    """A server killed with SIGKILL cannot stop its workers; they notice and exit within a second."""
    import time

    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


class _Worker:
    def __init__(self, memory_bytes: int, modules: tuple[str, ...]):
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process: BaseProcess = ctx.Process(
            target=_worker_main, args=(child, memory_bytes, os.getpid(), modules), daemon=True,
            name="scalinglaw-compute",
        )  # fmt: skip
        self.process.start()
        child.close()

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """Blocking: send the task, wait for its outcome. ("died", exitcode) when the process ended."""
        try:
            self.conn.send((fn, args, kwargs))
            outcome: tuple[Any, ...] = self.conn.recv()
            return outcome
        except (EOFError, OSError, BrokenPipeError):
            self.process.join(timeout=5)
            return ("died", self.process.exitcode)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, TypeError):  # TypeError: not started (no pid)
            os.kill(self.process.pid, signal.SIGKILL)  # type: ignore[arg-type]

    def close(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self.conn.send(None)
        self.conn.close()


class ComputePool:
    """At most `workers` computations at once, each in its own process; more wait their turn."""

    def __init__(self, workers: int, *, memory_bytes: int = 0, modules: tuple[str, ...] = ()):
        """modules: what each worker imports when it starts."""
        self.workers = workers
        self.memory_bytes = memory_bytes
        self.modules = modules
        self._slots = asyncio.Semaphore(workers)
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        # one thread per worker waits on its pipe: never the loop's default pool, which the store needs
        self._io = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="compute-io")
        self.started = 0  # worker processes started so far (a killed one is replaced on next need)
        self._closed = False

    @property
    def busy(self) -> int:
        return len(self._busy)

    @property
    def pids(self) -> list[int]:
        return [w.process.pid for w in (*self._idle, *self._busy) if w.process.pid is not None]

    async def warm(self) -> None:
        """Start the workers now, so the first fits do not wait for their imports (the server does
        this once it listens; tests that never fit never start one)."""
        while not self._closed and len(self._idle) + len(self._busy) < self.workers:
            self._idle.append(await self._start_worker())

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """fn(*args, **kwargs) in a worker. Cancelling the caller kills the worker at once."""
        async with self._slots:
            if self._closed:
                raise ComputeError("the server is stopping")
            worker = self._idle.pop() if self._idle else await self._start_worker()
            self._busy.add(worker)
            call = asyncio.get_running_loop().run_in_executor(self._io, worker.call, fn, args, kwargs)
            try:
                outcome = await asyncio.shield(call)
            except BaseException:  # the caller gave up (or the pipe failed): stop the work, not only the wait
                worker.kill()
                with contextlib.suppress(BaseException):
                    await call  # the pipe thread returns once the process is gone
                self._busy.discard(worker)
                worker.close()
                raise
            self._busy.discard(worker)
            if outcome[0] == "died":
                worker.close()
                raise _death(outcome[1], fn)
            self._idle.append(worker)
        return _result(outcome, fn)

    async def _start_worker(self) -> _Worker:
        worker = await asyncio.get_running_loop().run_in_executor(self._io, _Worker, self.memory_bytes, self.modules)
        self.started += 1
        return worker

    def close(self) -> None:
        """Idle workers are told to exit; busy ones (nobody waits for them any more) are killed."""
        self._closed = True
        for worker in self._busy:
            worker.kill()
        for worker in self._idle:
            worker.close()
        self._idle.clear()
        self._io.shutdown(wait=False, cancel_futures=True)


def _result(outcome: tuple[Any, ...], fn: Callable[..., Any]) -> Any:
    kind = outcome[0]
    if kind == "ok":
        return outcome[1]
    if kind == "domain":
        _, error_type, message, field, index = outcome
        raise error_type(message, field=field, index=index)
    if kind == "memory":
        raise LimitExceededError(
            "the computation ran out of the memory a worker may use (fit_memory_bytes): "
            "ask for fewer points (x_min, x_max) or fewer resamples"
        )
    logger.error("compute worker failed in %s:\n%s", getattr(fn, "__qualname__", fn), outcome[1])
    raise ComputeError("a compute worker failed")


def _death(exitcode: int | None, fn: Callable[..., Any]) -> Exception:
    if exitcode == -signal.SIGKILL:  # not by us (we only kill for a cancelled caller): the OOM killer
        return LimitExceededError("the computation was killed, most likely for lack of memory on the server")
    logger.error("compute worker died (exit code %s) in %s", exitcode, getattr(fn, "__qualname__", fn))
    return ComputeError(f"a compute worker died (exit code {exitcode})")
