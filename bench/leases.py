"""Job leases: how soon a survivor acts on a dead replica's job, and what the leases cost.

    python bench/leases.py [--postgres-url URL] [--jobs 32] [--window 20] [--repeats 3] [--before REV]

Every server is a real process (`python -m service.server`) on PostgreSQL, each run in a schema of
its own. "before" is the code at REV (default: where this branch left main), unpacked with
`git archive`: it has no leases, so a killed replica's job stays RUNNING.

1. Takeover: replicas a and b; a long job runs on a; a is killed with SIGKILL once the job trains;
   seconds until b has marked the job FAILED (polled every 20 ms), for the leases the tests use
   (renew 0.5 s, lost after 3 s) and the defaults (5 s, 20 s), beside the bound lease + renewal.
2. Cost: `--jobs` jobs running at once across two replicas (half each), for `--window` seconds:
   the servers' CPU seconds, the rows the database wrote and the scans it made in the run's schema,
   and GetJob latency through one replica, before and with leases (default and fast settings).
3. One lease pass (renew + claim) timed in this process against a database holding `--jobs`
   running jobs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from source_tree import tree_at  # noqa: E402  (bench/ is on sys.path when this script runs)

from service.client import ScalingLawClient  # noqa: E402

TINY = {"dim": 8, "train_size": 64, "desired_size": 64, "test_size": 64}
LONG_JOB: dict[str, Any] = {"steps": 20000, "device": "cpu", "config": TINY, "search": {"outer_iters": 50}}
FAST = {"lease_renew_seconds": 0.5, "lease_seconds": 3.0}
DEFAULT = {"lease_renew_seconds": 5.0, "lease_seconds": 20.0}


class Server:
    """`python -m service.server` of a source tree, on port 0; SIGKILLed by kill()."""

    def __init__(self, tree: Path, data_dir: Path, **settings: object):
        env = {**os.environ, "PYTHONPATH": str(tree), "SCALINGLAW_PORT": "0", "SCALINGLAW_DATA_DIR": str(data_dir)}
        env.update({f"SCALINGLAW_{k.upper()}": str(v) for k, v in settings.items()})
        self.proc = subprocess.Popen([sys.executable, "-m", "service.server"], cwd=tree, env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        assert self.proc.stdout is not None
        lines = []
        for line in self.proc.stdout:
            lines.append(line)
            if "listening on" in line:
                self.target = f"127.0.0.1:{int(line.rsplit(':', 1)[1])}"
                break
        else:
            raise RuntimeError("the server did not start:\n" + "".join(lines))
        threading.Thread(target=lambda: [None for _ in self.proc.stdout or ()], daemon=True).start()

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


@contextmanager
def schema(url: str) -> Iterator[tuple[str, str]]:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {name}")
    try:
        yield f"{url}{'&' if '?' in url else '?'}{urlencode({'options': f'-csearch_path={name}'})}", name
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {name} CASCADE")


@contextmanager
def replicas(tree: Path, url: str, names: list[str], **settings: object) -> Iterator[list[Server]]:
    with tempfile.TemporaryDirectory() as data:
        started: list[Server] = []
        try:
            for name in names:
                started.append(Server(tree, Path(data) / name, database_url=url, replica_id=name, **settings))
            yield started
        finally:
            for server in started:
                server.kill()


def takeover_seconds(tree: Path, url: str, settings: dict[str, object], limit: float) -> float | None:
    """Seconds from the owner's SIGKILL until the survivor has settled its running job; None: not
    within limit seconds."""
    with schema(url) as (database, _), replicas(tree, database, ["a", "b"], fit_workers=1, **settings) as (a, b):
        with ScalingLawClient(a.target, retries=0) as ca:
            job = ca.start_training("perceptron", **LONG_JOB)
            for event in ca.watch(job.id):
                if event.phase == "conventional":
                    break
        a.kill()
        killed = time.monotonic()
        with ScalingLawClient(b.target) as cb:
            while time.monotonic() - killed < limit:
                if cb.get_job(job.id).state != "RUNNING":
                    return time.monotonic() - killed
                time.sleep(0.02)
    return None


def cost(tree: Path, url: str, settings: dict[str, object], jobs: int, window: float) -> dict[str, float]:
    """Servers' CPU seconds, rows written and scans in the schema per second, and GetJob latency,
    over `window` seconds with `jobs` jobs running across two replicas."""
    import psycopg

    half = (jobs + 1) // 2
    common = {"max_jobs": half, "max_queued_jobs": jobs, "fit_workers": 1, **settings}
    with schema(url) as (database, name), replicas(tree, database, ["a", "b"], **common) as servers:
        clients = [ScalingLawClient(s.target, timeout=120) for s in servers]
        try:
            ids = [clients[i % 2].start_training("perceptron", **LONG_JOB).id for i in range(jobs)]
            deadline = time.monotonic() + 300
            while sum(clients[0].get_job(j).state == "RUNNING" for j in ids) < jobs:
                if time.monotonic() > deadline:
                    raise RuntimeError("the jobs did not all start within 300 s")
                time.sleep(0.5)

            def table_stats() -> tuple[int, int]:
                time.sleep(1.5)  # PostgreSQL publishes table statistics about once a second
                with psycopg.connect(url, autocommit=True) as db:
                    row = db.execute(
                        "SELECT COALESCE(SUM(n_tup_ins + n_tup_upd + n_tup_del), 0),"
                        " COALESCE(SUM(seq_scan + COALESCE(idx_scan, 0)), 0)"
                        " FROM pg_stat_user_tables WHERE schemaname = %s",
                        (name,),
                    ).fetchone()
                assert row is not None
                return int(row[0]), int(row[1])

            rows0, scans0 = table_stats()
            cpu0 = sum(s.cpu_seconds() for s in servers)
            latencies: list[float] = []
            end = time.monotonic() + window
            while time.monotonic() < end:
                t = time.perf_counter()
                clients[0].get_job(ids[-1])
                latencies.append(time.perf_counter() - t)
                time.sleep(0.05)
            cpu = sum(s.cpu_seconds() for s in servers) - cpu0
            rows1, scans1 = table_stats()
            for job_id in ids:
                clients[0].cancel_job(job_id)
        finally:
            for client in clients:
                client.close()
    latencies.sort()
    return {
        "server CPU s / s": cpu / window,
        "rows written / s": (rows1 - rows0) / window,
        "table scans / s": (scans1 - scans0) / window,
        "GetJob p50 ms": 1e3 * latencies[len(latencies) // 2],
        "GetJob p99 ms": 1e3 * latencies[int(0.99 * (len(latencies) - 1))],
    }


def lease_pass_ms(url: str, jobs: int, passes: int = 200) -> tuple[float, float]:
    """Median ms of renew_lease and of take_orphans with `jobs` running jobs held by two live holders."""
    from service.server.store import Holder
    from service.server.store.postgres import PostgresStore

    with schema(url) as (database, _):
        store = PostgresStore(database)
        try:
            holders = [Holder(f"h-{i}", f"r{i}", "host", i) for i in range(2)]
            for holder in holders:
                store.register_holder(holder, 60)
            for i in range(jobs):
                h = holders[i % 2]
                job, _ = store.create_job(request_id="", study="s", spec={}, request=b"r", owner=h.replica_id,
                                          holder=h.token)  # fmt: skip
                store.add_job_event(job.id, phase="started", message="", progress=0.0, state="RUNNING")
            renew, claim = [], []
            for _ in range(passes):
                t = time.perf_counter()
                store.renew_lease(holders[0], 60)
                renew.append(time.perf_counter() - t)
                t = time.perf_counter()
                assert store.take_orphans(holders[0], queued_slots=4, max_retries=0) == []
                claim.append(time.perf_counter() - t)
        finally:
            store.close()
    return 1e3 * statistics.median(renew), 1e3 * statistics.median(claim)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--jobs", type=int, default=32, help="jobs running at once for the cost (default 32)")
    parser.add_argument("--window", type=float, default=20.0, help="seconds the cost is measured over")
    parser.add_argument("--repeats", type=int, default=3, help="kills with the fast leases (default 3)")
    parser.add_argument("--before", default="", help="the code without leases (default: merge-base with main)")
    parser.add_argument("--parts", default="1,2,3", help="which parts to run (default 1,2,3)")
    args = parser.parse_args()
    rev = args.before or subprocess.run(["git", "-C", str(ROOT), "merge-base", "HEAD", "main"], check=True,
                                        capture_output=True, text=True).stdout.strip()  # fmt: skip
    parts = {int(p) for p in args.parts.split(",")}
    with tempfile.TemporaryDirectory() as scratch:
        before = tree_at(rev, Path(scratch))
        if 1 in parts:
            takeover_table(args, before, rev)
        if 2 in parts:
            cost_table(args, before)
    if 3 in parts:
        renew, claim = lease_pass_ms(args.postgres_url, args.jobs)
        print(
            f"\n3. One lease pass with {args.jobs} running jobs: renew {renew:.2f} ms, claim {claim:.2f} ms (medians)"
        )


def takeover_table(args: argparse.Namespace, before: Path, rev: str) -> None:
    print(f"1. Seconds from the owner's SIGKILL until the survivor settles its running job (before: {rev[:8]})")
    print(f"   {'code, leases':<32} {'bound':>7}  measured")
    for label, tree, settings, repeats in (
        ("after, renew 0.5 s / lease 3 s", ROOT, FAST, args.repeats),
        ("after, renew 5 s / lease 20 s", ROOT, DEFAULT, 1),
        ("before (no leases)", before, {}, 1),
    ):
        bound = float(settings.get("lease_seconds", 0)) + float(settings.get("lease_renew_seconds", 0))
        limit = bound + 15 if settings else 40.0
        times = [takeover_seconds(tree, args.postgres_url, settings, limit) for _ in range(repeats)]
        shown = "  ".join("never" if t is None else f"{t:.2f}" for t in times)
        print(f"   {label:<32} {bound if settings else float('inf'):>7.1f}  {shown}"
              + ("" if settings else f"   (still RUNNING {limit:.0f} s after the kill)"), flush=True)  # fmt: skip


def cost_table(args: argparse.Namespace, before: Path) -> None:
    print(f"\n2. Cost with {args.jobs} jobs running across two replicas, over {args.window:g} s")
    variants = {"before": (before, {}), "leases 5 s/20 s": (ROOT, DEFAULT), "leases 0.5 s/3 s": (ROOT, FAST)}
    results = {name: cost(tree, args.postgres_url, s, args.jobs, args.window) for name, (tree, s) in variants.items()}
    names = list(results)
    print(f"   {'':<18}" + "".join(f"{n:>18}" for n in names) + "   ratios to before")
    for metric in results["before"]:
        values = [results[n][metric] for n in names]
        ratios = "  ".join(f"{v / values[0]:.2f}x" if values[0] else "-" for v in values[1:])
        print(f"   {metric:<18}" + "".join(f"{v:>18.2f}" for v in values) + f"   {ratios}", flush=True)


if __name__ == "__main__":
    main()
