"""Upload and read-back throughput of one large curve through the Python client, on loopback.

    python bench/upload_throughput.py [--points 10000000] [--mlflow-points 1000000]

The server runs as its own process (`python -m service.main`); its peak RSS (VmHWM) is read from
/proc before and after, against the payload size (16 bytes a point). When mlflow is installed,
the same run logs a curve to a local MLflow tracking server (SQLite backend) with its batched
API, the tool users reach for today, and prints the ratio. Targets: >= 5M points/s each way,
server memory <= 3x the payload.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from service.client import ScalingLawClient
from service.process import ServerProcess


def vm_hwm_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def mlflow_rate(points: int) -> float | None:
    try:
        import mlflow
        from mlflow.entities import Metric
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tracking_uri(f"sqlite:///{Path(tmp) / 'mlflow.db'}")
        client = mlflow.MlflowClient()
        run = client.create_run(client.create_experiment("bench", artifact_location=tmp))
        loss = 1.0 / np.arange(1, points + 1)
        stamp = int(time.time() * 1000)
        start = time.perf_counter()
        for i in range(0, points, 1000):  # log_batch takes at most 1000 metrics a call
            batch = [Metric("loss", float(loss[j]), stamp, j) for j in range(i, min(i + 1000, points))]
            client.log_batch(run.info.run_id, metrics=batch)
        return points / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--mlflow-points", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.points
    x = np.arange(1.0, n + 1.0)
    loss = 2.0 + 100.0 / np.sqrt(x)
    payload_mb = 16 * n / 2**20
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
            assert np.array_equal(frame.loss.to_numpy(), loss)
            peak_mb = vm_hwm_mb(server.proc.pid) - base_mb
        finally:
            server.terminate()
    print(f"{n} points ({payload_mb:.0f} MB of float64 x and loss) through the Python client on loopback")
    print(f"  upload    {up:6.2f} s  {n / up / 1e6:6.2f} M points/s (target >= 5)")
    print(f"  read back {down:6.2f} s  {n / down / 1e6:6.2f} M points/s (target >= 5)")
    print(f"  server peak RSS growth {peak_mb:.0f} MB = {peak_mb / payload_mb:.2f}x the payload (target <= 3x)")
    rate = mlflow_rate(args.mlflow_points)
    if rate is None:
        print("  MLflow: not installed (pip install mlflow) - no side-by-side figure")
    else:
        print(f"  MLflow log_batch, SQLite backend, {args.mlflow_points} points: {rate / 1e6:.3f} M points/s;")
        print(f"  scalinglaw upload is {n / up / rate:.0f}x faster")


if __name__ == "__main__":
    main()
