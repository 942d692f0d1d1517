"""The hostile set of issue 10 against a real server process with a token set: for each probe, the
status code returned, the server's peak memory (its own RSS and that of its worker and job
processes together) and the worst health-check latency measured while the probe ran.

    python bench/hostile_probe.py [--only NAME ...]

Health is checked every 100 ms from a thread of its own, without the token (health stays open);
memory is sampled every 50 ms from /proc. The server runs with SCALINGLAW_UPLOAD_IDLE_SECONDS=5 so
the idle-upload probe ends in seconds; every other setting is the default. Bounded: a few minutes
on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from protos.scalinglaw.v1 import scalinglaw_pb2_grpc as pb_grpc
from service import wire
from service.cli.server_process import ServerProcess

TOKEN = "probe-token-0123456789"
AUTH = (("authorization", f"Bearer {TOKEN}"),)
BIG = [("grpc.max_send_message_length", 2**30), ("grpc.max_receive_message_length", 2**30)]


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree(pid: int) -> list[int]:
    """pid and its descendants (compute workers, job processes)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += parents.get(p, [])
    return out


class Watch:
    """Health latency and memory of the server's process tree, sampled in the background."""

    def __init__(self, server: ServerProcess):
        self.server = server
        self.channel = grpc.insecure_channel(server.target)
        self.health = health_pb2_grpc.HealthStub(self.channel)
        self.reset()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=f, daemon=True) for f in (self._check, self._sample)]
        for t in self._threads:
            t.start()

    def reset(self) -> None:
        self.worst_health = 0.0
        self.failed_health = 0
        self.peak_tree = 0
        self.peak_main = 0

    def _check(self) -> None:
        while not self._stop.is_set():
            tick = time.monotonic()
            try:
                self.health.Check(health_pb2.HealthCheckRequest(), timeout=5.0)
            except grpc.RpcError:
                self.failed_health += 1
            self.worst_health = max(self.worst_health, time.monotonic() - tick)
            time.sleep(0.1)

    def _sample(self) -> None:
        pid = self.server.proc.pid
        while not self._stop.is_set():
            main = rss_bytes(pid)
            self.peak_main = max(self.peak_main, main)
            self.peak_tree = max(self.peak_tree, sum(rss_bytes(p) for p in tree(pid)))
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()
        self.channel.close()


def code(call: Callable[[], Any]) -> str:
    try:
        call()
    except grpc.RpcError as err:
        return err.code().name  # type: ignore[no-any-return]
    return "OK"


def details(call: Callable[[], Any]) -> tuple[str, str]:
    """(code, everything the caller gets back as text: details and trailing metadata)."""
    try:
        call()
    except grpc.RpcError as err:
        trailer = " ".join(repr(v) for _, v in (err.trailing_metadata() or ()))  # type: ignore[attr-defined]
        return err.code().name, f"{err.details()} {trailer}"  # type: ignore[attr-defined]
    return "OK", ""


class Probes:
    def __init__(self, server: ServerProcess):
        self.server = server
        self.channel = grpc.insecure_channel(server.target, options=BIG)
        self.stub = pb_grpc.ScalingLawServiceStub(self.channel)
        self.small = self.upload(np.arange(1.0, 301.0))

    def upload(self, x: np.ndarray, labels: dict[str, str] | None = None) -> str:
        loss = 0.05 + (3e5 / x) ** 0.3
        header = pb.CurveHeader(expected_points=x.size, labels=labels or {})

        def messages() -> Iterator[bytes]:
            yield pb.UploadCurveRequest(header=header).SerializeToString()
            for start in range(0, x.size, 65_536):
                yield wire.upload_chunk(x[start : start + 65_536], loss[start : start + 65_536])

        call = self.channel.stream_unary(
            "/scalinglaw.v1.ScalingLawService/UploadCurve",
            request_serializer=None,
            response_deserializer=pb.Curve.FromString,
        )
        return str(call(messages(), timeout=300, metadata=AUTH).id)

    def fit(self, law: str, timeout: float = 30.0, ids: list[str] | None = None) -> Callable[[], Any]:
        request = pb.FitCurvesRequest(curve_ids=ids or [self.small], options=pb.FitOptions(law=law))
        return lambda: self.stub.FitCurves(request, timeout=timeout, metadata=AUTH)

    # -- the findings --------------------------------------------------------------------------

    def expression_reads_passwd(self) -> str:
        status, text = details(self.fit("a*x + float(open('/etc/passwd').read())"))
        return f"{status}; reply {'CONTAINS /etc/passwd' if 'root:' in text else 'has no file content'}"

    def expression_reads_environ(self) -> str:
        status, text = details(self.fit("a*x + float(open('/proc/self/environ').read())"))
        return f"{status}; reply {'CONTAINS THE TOKEN' if TOKEN in text else 'has no token'}"

    def expression_huge_power(self) -> str:
        tick = time.monotonic()
        status = code(self.fit("a*x + 0*((9**9999)**999)", timeout=10.0))
        return f"{status} after {time.monotonic() - tick:.1f} s (deadline 10 s)"

    def expression_600_minus(self) -> str:
        return code(self.fit("a*x + " + "-" * 600 + "x"))

    def expression_20000_terms(self) -> str:
        return code(self.fit(" + ".join(["a*x"] * 20_000)))

    def expression_1_mb(self) -> str:
        return code(self.fit("a*x" + " + x" * 262_144))

    def fit_200_copies(self) -> str:
        curve = self.upload(np.arange(1.0, 100_001.0))
        tick = time.monotonic()
        status = code(self.fit("step_power", timeout=300, ids=[curve] * 200))
        return f"{status} in {time.monotonic() - tick:.1f} s"

    def report_two_2m_curves(self) -> str:
        x = np.arange(1.0, 2_000_001.0)
        a, b = self.upload(x), self.upload(x * 1.0001)
        request = pb.RenderReportRequest(
            curves=pb.CurveSet(baseline_id=a, candidate_ids=[b]), options=pb.FitOptions(bootstrap=20)
        )
        tick = time.monotonic()
        status = code(lambda: self.stub.RenderReport(request, timeout=300, metadata=AUTH))
        return f"{status} in {time.monotonic() - tick:.1f} s"

    def labels_2mb_then_list(self) -> str:
        refused = 0
        for _ in range(40):
            try:
                self.upload(np.arange(1.0, 11.0), labels={"notes": "x" * 2_000_000})
            except grpc.RpcError:
                refused += 1
        listing = code(lambda: self.stub.ListCurves(pb.ListCurvesRequest(), timeout=30, metadata=AUTH))
        return f"40 uploads with 2 MB labels: {refused} refused; ListCurves {listing}"

    def idle_uploads(self) -> str:
        def silent(release: threading.Event) -> Iterator[pb.UploadCurveRequest]:
            yield pb.UploadCurveRequest(header=pb.CurveHeader(expected_points=10))
            release.wait(60)

        release = threading.Event()
        with ThreadPoolExecutor(64) as pool:
            futures = [
                pool.submit(code, lambda: self.stub.UploadCurve(silent(release), timeout=30, metadata=AUTH))
                for _ in range(64)
            ]
            time.sleep(1.0)  # a probe, not a test: let the 64 streams open
            while_held = code(lambda: self.upload(np.arange(1.0, 11.0)))
            tick = time.monotonic()
            ends = {f.result() for f in futures}
            freed = time.monotonic() - tick
            release.set()
        after = code(lambda: self.upload(np.arange(1.0, 11.0)))
        return (
            f"upload while 64 idle: {while_held}; idle streams ended {sorted(ends)} after {freed:.1f} s; then {after}"
        )

    def start(self, **fields: Any) -> Callable[[], Any]:
        request = pb.StartTrainingRequest(task=pb.TASK_PERCEPTRON, device=pb.DEVICE_CPU, **fields)
        return lambda: self.stub.StartTraining(request, timeout=60, metadata=AUTH)

    def job_bootstrap(self) -> str:
        return code(self.start(bootstrap=2**31 - 1))

    def job_huge_dim(self) -> str:
        return code(self.start(perceptron=pb.PerceptronConfig(dim=2**31 - 1)))

    def jobs_100_queued(self) -> str:
        tiny = pb.PerceptronConfig(dim=8, train_size=64, desired_size=64, test_size=64)
        codes = [
            code(self.start(steps=20000, perceptron=tiny, search=pb.SearchConfig(outer_iters=50))) for _ in range(100)
        ]
        jobs = self.stub.ListJobs(pb.ListJobsRequest(page_size=1000), timeout=30, metadata=AUTH).jobs
        for job in jobs:
            self.stub.CancelJob(pb.CancelJobRequest(id=job.id), timeout=30, metadata=AUTH)
        return f"{codes.count('OK')} accepted, {codes.count('RESOURCE_EXHAUSTED')} RESOURCE_EXHAUSTED"

    def corpus_paths(self) -> str:
        answers = []
        for path in ("/etc/passwd", "/no/such/file"):
            request = pb.StartTrainingRequest(
                task=pb.TASK_TRANSFORMER_LM,
                device=pb.DEVICE_CPU,
                steps=10,
                transformer=pb.TransformerConfig(corpus=path),
            )
            answers.append(details(lambda r=request: self.stub.StartTraining(r, timeout=60, metadata=AUTH)))  # type: ignore[misc]
        same = "the same answer" if answers[0] == answers[1] else "DIFFERENT answers"
        return f"{answers[0][0]} / {answers[1][0]}, {same} for an existing and a missing file"

    def wrong_token(self) -> str:
        wrong = (("authorization", f"Bearer {TOKEN[:-1]}x"),)
        return code(lambda: self.stub.ListCurves(pb.ListCurvesRequest(), timeout=30, metadata=wrong))

    def reflection_without_token(self) -> str:
        stub = reflection_pb2_grpc.ServerReflectionStub(self.channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        return code(lambda: list(stub.ServerReflectionInfo(iter([request]), timeout=30)))

    def large_unauthenticated(self) -> str:
        big = pb.FitCurvesRequest(curve_ids=["x" * 1000] * 55_000)  # 55 MB each

        def send() -> str:
            with grpc.insecure_channel(self.server.target, options=BIG) as channel:
                return code(lambda: pb_grpc.ScalingLawServiceStub(channel).FitCurves(big, timeout=60))

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _: send(), range(8)))
        return f"8 x 55 MB without the token: {sorted(set(codes))}"


PROBES = [
    ("1", "expression_reads_passwd"),
    ("1", "expression_reads_environ"),
    ("2", "expression_huge_power"),
    ("3", "expression_600_minus"),
    ("3", "expression_20000_terms"),
    ("3", "expression_1_mb"),
    ("4", "fit_200_copies"),
    ("4", "report_two_2m_curves"),
    ("5", "labels_2mb_then_list"),
    ("6", "idle_uploads"),
    ("7", "job_bootstrap"),
    ("7", "job_huge_dim"),
    ("7", "jobs_100_queued"),
    ("7", "corpus_paths"),
    ("8", "wrong_token"),
    ("8", "reflection_without_token"),
    ("8", "large_unauthenticated"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", default=None, help="probe names to run (default: all)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        server = ServerProcess(Path(data_dir), token=TOKEN, upload_idle_seconds=5)
        watch = Watch(server)
        try:
            probes = Probes(server)
            print(f"{'#':<2} {'probe':<26} {'peak RSS MB (server / +workers)':>32} {'worst health s':>15}  outcome")
            for finding, name in PROBES:
                if args.only and name not in args.only:
                    continue
                watch.reset()
                outcome = getattr(probes, name)()
                time.sleep(0.2)  # one more sample of each after the probe's last call
                failed = f" ({watch.failed_health} failed)" if watch.failed_health else ""
                print(
                    f"{finding:<2} {name:<26} {watch.peak_main / 2**20:>15.0f} / {watch.peak_tree / 2**20:>14.0f}"
                    f" {watch.worst_health:>15.3f}{failed}  {outcome}",
                    flush=True,
                )
        finally:
            watch.close()
            server.terminate()


if __name__ == "__main__":
    main()
