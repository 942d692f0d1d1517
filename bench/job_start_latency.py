"""Job start latency of each executor: seconds from StartTraining to the job's first RUNNING
event, to its first progress event (training has begun) and to SUCCEEDED, for tiny jobs.

    python bench/job_start_latency.py [--jobs 5] [--executors local,ray]

Each executor gets its own server process (`python -m service.server`, SCALINGLAW_EXECUTOR=...; for
`ray`, an empty SCALINGLAW_RAY_ADDRESS, so the server starts a local Ray inside itself, whose start
is reported apart). Jobs run one after another, so no job waits behind another. The local
executor reports RUNNING as soon as it has spawned the process; Ray's task reports it once it runs
on a worker, which Ray keeps between tasks (torch stays imported), while every local job pays a new
interpreter and a torch import.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass

from service.cli.server_process import ServerProcess
from service.client import ScalingLawClient

TINY = {"dim": 8, "train_size": 64, "desired_size": 64, "test_size": 64}


@dataclass(frozen=True)
class JobTimes:
    running: float  # StartTraining -> first RUNNING event
    training: float  # -> first progress event from the trainer
    succeeded: float  # -> SUCCEEDED


def time_job(client: ScalingLawClient) -> JobTimes:
    start = time.perf_counter()
    job = client.start_training("perceptron", steps=20, device="cpu", bootstrap=10, config=TINY)
    running = training = None
    for event in client.watch(job.id):
        now = time.perf_counter() - start
        if running is None and event.state == "RUNNING":
            running = now
        if training is None and event.phase not in ("queued", "started"):
            training = now
        if event.state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            if event.state != "SUCCEEDED":
                raise SystemExit(f"job {job.id} ended {event.state}: {client.get_job(job.id).error}")
            assert running is not None and training is not None
            return JobTimes(running, training, now)
    raise SystemExit(f"the stream of job {job.id} ended before the job did")


def measure(executor: str, jobs: int) -> tuple[float, list[JobTimes]]:
    with tempfile.TemporaryDirectory() as data_dir:
        started = time.perf_counter()
        server = ServerProcess(data_dir, executor=executor, ray_address="", grace_seconds=0)
        ready = time.perf_counter() - started
        try:
            with ScalingLawClient(server.target, timeout=120) as client:
                return ready, [time_job(client) for _ in range(jobs)]
        finally:
            server.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument("--executors", default="local,ray")
    args = parser.parse_args()
    report(args.jobs, args.executors.split(","))


def report(jobs: int, executors: list[str]) -> None:
    """Runs `jobs` tiny jobs through a server with each executor and prints the table."""
    results = {name: measure(name, jobs) for name in executors}
    print(f"{jobs} tiny perceptron jobs (T=20, D=8) one after another; seconds, median / max")
    print(f"{'':28}" + "".join(f"{name:>16}" for name in executors))
    print(f"{'server ready':28}" + "".join(f"{results[name][0]:16.2f}" for name in executors))
    for label, field in (("to RUNNING", "running"), ("to first progress", "training"), ("to SUCCEEDED", "succeeded")):
        cells = []
        for name in executors:
            values = [getattr(t, field) for t in results[name][1]]
            cells.append(f"{statistics.median(values):7.2f} / {max(values):6.2f}")
        print(f"{label:28}" + "".join(f"{cell:>16}" for cell in cells))


if __name__ == "__main__":
    main()
