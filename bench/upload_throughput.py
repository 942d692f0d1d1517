"""Upload and read-back throughput of one curve through the Python client, beside MLflow.

    python bench/upload_throughput.py [--points 200000] [--large-points 10000000]

1. Side by side, the same points both ways for both tools, each a real server process on this
   machine: scalinglaw (`python -m service.server`, SQLite store) through ScalingLawClient
   (upload_curve, read_curve), and `mlflow server` on a SQLite backend store through MlflowClient
   (log_batch of 1,000 metrics a call, its limit; get_metric_history, which pages). Both read-backs
   are checked equal to what was written. MLflow writes tens of thousands of points a second, so
   the default count keeps its part to about a minute; the ratios are per point and hold at any
   count (see README, Benchmarks).
2. scalinglaw alone at --large-points (our target: >= 5M points/s each way, server memory
   <= 3x the payload), its peak RSS (VmHWM) read from /proc. 0 skips it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# the repository root: tests/ (the load generator) is not an installed package, and a script's
# own folder, not the working directory, is what Python puts on the path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.cli.server_process import ServerProcess
from service.client import ScalingLawClient
from tests.service.mlflow_server import MlflowServer


def vm_hwm_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def curve(n: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(1.0, n + 1.0)
    return x, 2.0 + 100.0 / np.sqrt(x)


def ours(n: int) -> tuple[float, float, float]:
    """(upload s, read-back s, server peak RSS growth MB) for n points."""
    x, loss = curve(n)
    with tempfile.TemporaryDirectory() as data_dir:
        server = ServerProcess(data_dir, max_points=100_000_000)
        try:
            base_mb = vm_hwm_mb(server.proc.pid)
            with ScalingLawClient(server.target, timeout=600) as client:
                start = time.perf_counter()
                info = client.upload_curve(x, loss, name="big")
                up = time.perf_counter() - start
                start = time.perf_counter()
                frame = client.read_curve(info.id)
                down = time.perf_counter() - start
            assert np.array_equal(frame["x"].to_numpy(), x) and np.array_equal(frame["loss"].to_numpy(), loss)
            peak_mb = vm_hwm_mb(server.proc.pid) - base_mb
        finally:
            server.terminate()
    return up, down, peak_mb


def mlflow(n: int) -> tuple[float, float] | None:
    """(write s, read-back s) for n points through a real `mlflow server`; None without mlflow."""
    try:
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient
    except ImportError:
        return None
    x, loss = curve(n)
    with tempfile.TemporaryDirectory() as tmp:
        server = MlflowServer(Path(tmp))
        try:
            client = MlflowClient(server.uri)
            run = client.create_run(client.create_experiment("bench"), run_name="big")
            stamp = int(time.time() * 1000)
            start = time.perf_counter()
            for i in range(0, n, 1000):  # log_batch takes at most 1000 metrics a call
                batch = [Metric("loss", float(loss[j]), stamp, int(x[j])) for j in range(i, min(i + 1000, n))]
                client.log_batch(run.info.run_id, metrics=batch)
            write = time.perf_counter() - start
            start = time.perf_counter()
            history = client.get_metric_history(run.info.run_id, "loss")
            read = time.perf_counter() - start
            back = sorted((m.step, m.value) for m in history)
            assert np.array_equal([s for s, _ in back], x) and np.array_equal([v for _, v in back], loss)
        finally:
            server.stop()
    return write, read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200_000, help="side by side, for both tools")
    parser.add_argument("--large-points", type=int, default=10_000_000, help="scalinglaw alone; 0 skips")
    args = parser.parse_args()
    n = args.points
    up, down, _ = ours(n)
    print(f"{n} points, one curve, each tool a server process on loopback (SQLite store), read-backs checked equal")
    print(f"  {'':10} {'scalinglaw':>16} {'MLflow':>16} {'ratio':>8}")
    theirs = mlflow(n)
    if theirs is None:
        print("  MLflow: not installed (pip install -e '.[mlflow]') - no side-by-side figure")
        print(f"  write     {n / up:13,.0f} /s")
        print(f"  read back {n / down:13,.0f} /s")
    else:
        for what, a, b in (("write", up, theirs[0]), ("read back", down, theirs[1])):
            print(f"  {what:10} {n / a:13,.0f} /s {n / b:13,.0f} /s {b / a:7.0f}x   ({a:.3f} s vs {b:.1f} s)")
    if args.large_points:
        m = args.large_points
        up, down, peak_mb = ours(m)
        payload_mb = 16 * m / 2**20
        print(f"scalinglaw alone, {m} points ({payload_mb:.0f} MB of float64 x and loss)")
        print(f"  upload    {up:6.2f} s  {m / up / 1e6:6.2f} M points/s (target >= 5)")
        print(f"  read back {down:6.2f} s  {m / down / 1e6:6.2f} M points/s (target >= 5)")
        print(f"  server peak RSS growth {peak_mb:.0f} MB = {peak_mb / payload_mb:.2f}x the payload (target <= 3x)")


if __name__ == "__main__":
    main()
