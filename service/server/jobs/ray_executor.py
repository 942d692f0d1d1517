"""The `ray` executor: each job a Ray task on a cluster (SCALINGLAW_RAY_ADDRESS; empty: a Ray
started in this process), with one GPU when the job trains on cuda.

The task is a streaming generator: it yields the job's messages (service.server.jobs.base.JobMessage) as it
works and the server reads them with `async for`, so no queue or actor sits between them and the
server's event loop never blocks. When the worker dies or the task is cancelled the stream ends
with Ray's error, which `failure_reason` turns into the job's FAILED reason. The cluster's nodes
need this package installed, as the task imports it there.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import ray
from ray import exceptions as ray_errors

from fitting.errors import InvalidInputError
from service.server.jobs.base import JobExecutor, JobMessage, RunningJob, run_job
from service.server.jobs.leases import LeasePolicy
from service.server.store import Store
from trainers.config import RunSpec

logger = logging.getLogger(__name__)


def stream_job(spec: dict[str, Any]) -> Iterator[JobMessage]:
    """The Ray task: the job in a thread (trainers report through a callback, and only this frame
    can yield), its messages yielded as they come."""
    assigned = ray.get_runtime_context().get_assigned_resources()
    resources = ", ".join(f"{name} {amount:g}" for name, amount in sorted(assigned.items()))
    yield ("started", f"ray worker on {ray.util.get_node_ip_address()} ({resources}) process {os.getpid()}")
    messages: queue.SimpleQueue[JobMessage | None] = queue.SimpleQueue()

    def work() -> None:
        try:
            run_job(spec, messages.put)
        finally:
            messages.put(None)

    threading.Thread(target=work, daemon=True, name="scalinglaw-job").start()
    while (message := messages.get()) is not None:
        yield message


def task_options(job_id: str, spec: dict[str, Any]) -> dict[str, Any]:
    """What a job asks Ray for: one GPU when it trains on cuda ("auto" gets none, so it trains on
    CPU), one CPU in any case. No retries: a rerun would replay the job's events from the start."""
    cuda = RunSpec.from_dict(spec).device == "cuda"
    return {"num_cpus": 1, "num_gpus": 1 if cuda else 0, "max_retries": 0, "name": f"scalinglaw-job-{job_id}"}


def failure_reason(exc: ray_errors.RayError) -> str:
    """Ray's errors as a job's FAILED reason, most specific first."""
    if isinstance(exc, ray_errors.RayTaskError):  # raised in the task outside run_job: the task's own error
        return f"{type(exc.cause).__name__}: {exc.cause}"
    if isinstance(exc, ray_errors.OutOfMemoryError):
        return f"the job's Ray worker was killed for lack of memory: {exc}"
    if isinstance(exc, ray_errors.WorkerCrashedError | ray_errors.NodeDiedError | ray_errors.LocalRayletDiedError):
        return f"the job's Ray worker died ({type(exc).__name__}): {exc}"
    if isinstance(exc, ray_errors.TaskCancelledError):
        return "the job's Ray task was cancelled"
    return f"Ray could not run the job ({type(exc).__name__}): {exc}"


class RayExecutor(JobExecutor):
    def __init__(
        self, store: Store, max_jobs: int, owner: str = "", lease: LeasePolicy | None = None, *, address: str = ""
    ):
        super().__init__(store, max_jobs, owner, lease)
        self.address = address
        self._owns_ray = False  # shut Ray down on stop only if this executor started it
        self._task = ray.remote(stream_job)

    async def _open(self) -> None:
        if not ray.is_initialized():  # else this process is connected already (tests): use that Ray
            # blocking, once, before the server serves (a local Ray takes seconds to start); on the
            # main thread under `scalinglaw serve`, where Ray can install its signal handlers
            try:
                ray.init(
                    address=self.address or None, include_dashboard=False, ignore_reinit_error=True,
                    logging_level=logging.WARNING,
                )  # fmt: skip
            except ConnectionError as exc:  # the cause (e.g. a missing auth token) is chained below
                raise ConnectionError(f"cannot join the Ray cluster at SCALINGLAW_RAY_ADDRESS={self.address}") from exc
            self._owns_ray = True
        logger.info("ray executor: cluster %s, resources %s", self.address or "(local)", ray.cluster_resources())

    async def _close(self) -> None:
        if self._owns_ray:
            await asyncio.to_thread(ray.shutdown)

    async def check_device(self, device: str) -> None:
        if device != "cuda":
            return
        resources = await asyncio.to_thread(ray.cluster_resources)
        if resources.get("GPU", 0) < 1:  # else the task would wait for a GPU forever
            raise InvalidInputError("cuda was asked for but the Ray cluster has no GPU", field="device")

    def _launch(self, job_id: str, spec: dict[str, Any]) -> RunningJob:
        return RayJob(self._task.options(**task_options(job_id, spec)).remote(spec))


class RayJob(RunningJob):
    def __init__(self, stream: ray.ObjectRefGenerator):
        self.stream = stream

    async def messages(self) -> AsyncGenerator[JobMessage, None]:
        try:
            async for ref in self.stream:
                yield await ref
        except ray_errors.RayError as exc:
            yield ("error", failure_reason(exc))

    def terminate(self) -> None:
        ray.cancel(self.stream, force=True)  # force: kill the worker, as training never checks for cancellation
