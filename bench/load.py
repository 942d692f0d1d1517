"""Sustained load on a server process over loopback: uploads/s and fits/s with 1, 8 and 32 clients,
p50/p99 latencies and server peak RSS, on the SQLite store and (when a server answers) PostgreSQL.

    python bench/load.py [--clients 1 8 32] [--curves 50] [--fit-seconds 10] [--stores sqlite postgresql]
                         [--postgres-url postgresql://postgres@127.0.0.1:5432/test]

Each row: N uploaders send `--curves` curves of 256 points each while 2 clients fit and 2 watch
a small training job; then N clients fit random stored curves for `--fit-seconds`. Bounded: the
defaults finish in a few minutes on 2 cores. Then job start latency with the local executor
against Ray (bench/job_start_latency.py, which also runs alone).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from pathlib import Path

# the repository root: tests/ (the load generator) is not an installed package, and a script's
# own folder, not the working directory, is what Python puts on the path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.cli.server_process import ServerProcess
from service.client import ScalingLawClient
from tests.service.loadgen import run_fit_load, run_load


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def postgres_schema_url(base: str) -> str | None:
    """A fresh schema on the PostgreSQL server at base, as a URL whose search_path is that schema."""
    try:
        import psycopg
    except ImportError:
        return None
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(base, autocommit=True, connect_timeout=3) as db:
            db.execute(f"CREATE SCHEMA {schema}")
    except psycopg.OperationalError:
        return None
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def bench_store(label: str, settings: dict[str, object], args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        server = ServerProcess(Path(data_dir), **settings)
        try:
            for clients in args.clients:
                load = run_load(server.target, clients=clients, curves_per_client=args.curves)
                with ScalingLawClient(server.target) as c:
                    ids = [s.id for s in c.list_curves() if "/" in s.name][:500]
                fits = run_fit_load(server.target, ids, clients=clients, seconds=args.fit_seconds)
                up, fit = load.summary(), fits.summary()
                ok = load.stored == load.distinct_request_ids == clients * args.curves
                print(
                    f"{label:<10} {clients:>3} | {up['uploads_per_s']:>9.0f} {up['upload_p50_ms']:>7.1f}"
                    f" {up['upload_p99_ms']:>7.1f} | {fit['fits_per_s']:>7.1f} {fit['fit_p50_ms']:>7.1f}"
                    f" {fit['fit_p99_ms']:>7.1f} | {vm_hwm_mb(server.proc.pid):>7.0f} |"
                    f" {'ok' if ok else 'MISMATCH'} {up['errors'] + fit['errors']:.0f}",
                    flush=True,
                )
        finally:
            server.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--curves", type=int, default=50, help="curves per uploading client")
    parser.add_argument("--fit-seconds", type=float, default=10.0)
    parser.add_argument("--job-latency-jobs", type=int, default=5, help="0: skip the local-vs-Ray job start table")
    parser.add_argument("--stores", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    print(
        f"{'store':<10} {'N':>3} | {'upload/s':>9} {'p50 ms':>7} {'p99 ms':>7} | {'fit/s':>7} {'p50 ms':>7}"
        f" {'p99 ms':>7} | {'RSS MB':>7} | stored-once errors"
    )
    if "sqlite" in args.stores:
        bench_store("sqlite", {}, args)
    if "postgresql" in args.stores:
        url = postgres_schema_url(args.postgres_url)
        if url is None:
            print(f"postgresql: skipped (no server answered at {args.postgres_url} or psycopg missing)")
        else:
            bench_store("postgresql", {"database_url": url}, args)
    if args.job_latency_jobs:
        print()
        from job_start_latency import report  # bench/ is on the path when this file runs

        report(args.job_latency_jobs, ["local", "ray"])


if __name__ == "__main__":
    main()
