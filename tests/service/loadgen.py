"""A load generator for a running service: N clients uploading curves while others fit and watch.

Used by bench/load.py and the load test; usable against any deployment (`target`, `token`).
Every uploader has its own channel, as separate tools would; every call is timed.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from service.client import ClientError, ScalingLawClient

# a tiny perceptron job: watchers follow something that emits events while the load runs
TINY_JOB = {"dim": 8, "train_size": 64, "desired_size": 64, "test_size": 64}


@dataclass
class LoadReport:
    clients: int
    curves_per_client: int
    seconds: float
    upload_latency: list[float] = field(default_factory=list)
    fit_latency: list[float] = field(default_factory=list)
    watch_events: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    stored: int = 0  # curves of the run's study found afterwards
    distinct_request_ids: int = 0

    @property
    def uploads_per_s(self) -> float:
        return len(self.upload_latency) / self.seconds

    @property
    def fits_per_s(self) -> float:
        return len(self.fit_latency) / self.seconds

    @staticmethod
    def percentile(values: list[float], q: float) -> float:
        return float(np.percentile(values, q)) if values else float("nan")

    def summary(self) -> dict[str, float]:
        p = self.percentile
        return {
            "clients": self.clients,
            "uploads": len(self.upload_latency),
            "uploads_per_s": self.uploads_per_s,
            "upload_p50_ms": 1e3 * p(self.upload_latency, 50),
            "upload_p99_ms": 1e3 * p(self.upload_latency, 99),
            "fits": len(self.fit_latency),
            "fits_per_s": self.fits_per_s,
            "fit_p50_ms": 1e3 * p(self.fit_latency, 50),
            "fit_p99_ms": 1e3 * p(self.fit_latency, 99),
            "errors": sum(self.errors.values()),
        }


def synthetic_curve(seed: int, points: int) -> tuple[np.ndarray, np.ndarray]:
    """L(t) = L0 + (B/t)^beta with 1 % multiplicative noise; parameters vary per seed."""
    rng = np.random.default_rng(seed)
    x = np.arange(1.0, points + 1.0)
    l0, b, beta = rng.uniform(1.5, 3.0), rng.uniform(50, 500), rng.uniform(0.3, 0.7)
    return x, (l0 + (b / x) ** beta) * np.exp(rng.normal(0, 0.01, points))


def run_load(
    target: str,
    *,
    clients: int,
    curves_per_client: int,
    points: int = 256,
    fitters: int = 2,
    watchers: int = 2,
    token: str | None = None,
) -> LoadReport:
    """Uploaders each send curves_per_client curves (unique request ids, one study per run);
    fitters fit random uploaded curves and watchers follow a small training job until the
    uploaders finish. Afterwards the study is listed to check every curve was stored once."""
    study = f"load-{uuid.uuid4().hex[:8]}"
    report = LoadReport(clients, curves_per_client, 0.0)
    uploaded: list[str] = []
    lock = threading.Lock()
    done = threading.Event()

    def record(kind: str, seconds: float | None = None, error: ClientError | None = None) -> None:
        with lock:
            if error is not None:
                report.errors[f"{kind}: {error}"] += 1
            elif kind == "upload":
                report.upload_latency.append(seconds or 0.0)
            elif kind == "fit":
                report.fit_latency.append(seconds or 0.0)

    def uploader(k: int) -> None:
        with ScalingLawClient(target, token, timeout=120) as c:
            for i in range(curves_per_client):
                x, loss = synthetic_curve(k * 100_003 + i, points)
                start = time.perf_counter()
                try:
                    info = c.upload_curve(x, loss, study=study, name=f"{k}/{i}", request_id=f"{study}/{k}/{i}")
                except ClientError as err:
                    record("upload", error=err)
                    continue
                record("upload", time.perf_counter() - start)
                with lock:
                    uploaded.append(info.id)

    def fitter(seed: int) -> None:
        rng = np.random.default_rng(seed)
        with ScalingLawClient(target, token, timeout=120) as c:
            while not done.is_set():
                with lock:
                    pick = uploaded[int(rng.integers(len(uploaded)))] if uploaded else None
                if pick is None:
                    time.sleep(0.01)
                    continue
                start = time.perf_counter()
                try:
                    c.fit([pick], law="step_power")
                except ClientError as err:
                    record("fit", error=err)
                    continue
                record("fit", time.perf_counter() - start)

    def watcher(job_id: str) -> None:
        with ScalingLawClient(target, token, timeout=120) as c:
            try:
                events = list(c.watch(job_id))
            except ClientError as err:
                record("watch", error=err)
                return
        with lock:
            report.watch_events += len(events)

    threads = [threading.Thread(target=fitter, args=(s,)) for s in range(fitters)]
    if watchers:
        with ScalingLawClient(target, token) as c:
            job = c.start_training("perceptron", steps=400, device="cpu", study=study, config=TINY_JOB)
        threads += [threading.Thread(target=watcher, args=(job.id,)) for _ in range(watchers)]
    uploaders = [threading.Thread(target=uploader, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads + uploaders:
        t.start()
    for t in uploaders:
        t.join()
    report.seconds = time.perf_counter() - start
    done.set()
    for t in threads:
        t.join()
    with ScalingLawClient(target, token) as c:
        stored = [s for s in c.list_curves(study=study) if "/" in s.name]  # the uploads, not the job's curves
    report.stored = len(stored)
    report.distinct_request_ids = len({s.name for s in stored})
    return report


def run_fit_load(
    target: str, curve_ids: list[str], *, clients: int, seconds: float, token: str | None = None
) -> LoadReport:
    """clients fit random curves of curve_ids back to back for `seconds`: sustained FitCurves."""
    report = LoadReport(clients, 0, seconds)
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def fitter(seed: int) -> None:
        rng = np.random.default_rng(seed)
        with ScalingLawClient(target, token, timeout=120) as c:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    c.fit([curve_ids[int(rng.integers(len(curve_ids)))]], law="step_power")
                except ClientError as err:
                    with lock:
                        report.errors[f"fit: {err}"] += 1
                    continue
                with lock:
                    report.fit_latency.append(time.perf_counter() - start)

    threads = [threading.Thread(target=fitter, args=(s,)) for s in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report.seconds = time.perf_counter() - start
    return report
