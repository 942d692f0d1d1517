"""The image, built from this checkout and run with podman, driven from the host.

Not part of `make test` (the image build alone takes minutes): `.ci/run` runs it as its own bounded
step, `pytest -m container` (with SCALINGLAW_REQUIRE_CONTAINER=1, so a machine that cannot run it
fails). Timings are printed; `pytest -rP` shows them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fitting import acceleration_ratio, get_law
from service.client import ScalingLawClient, Unauthenticated
from tests.container.podman import Podman, base_tarball, build_image, import_base, require

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "container-test-token"
STEPS = np.arange(1.0, 4001.0)
CONV = {"L0": 0.0515, "B": 3.16e8, "beta": 0.12}
OPT = {"L0": 0.0515, "B": 1.99e7, "beta": 0.14}
TINY = {"dim": 8, "train_size": 64, "desired_size": 64, "test_size": 64}


def timed(label: str, start: float) -> float:
    seconds = time.monotonic() - start
    print(f"container timing: {label}: {seconds:.1f} s", flush=True)
    return seconds


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    require()
    engine = Podman(tmp_path_factory.mktemp("podman"))
    try:
        yield engine
    finally:
        engine.close()  # the base and builder layers too; the cached base tarball stays


@pytest.fixture(scope="module")
def image(podman: Podman) -> Iterator[str]:
    start = time.monotonic()
    base_tarball()
    timed("base image (mmdebstrap, or the cached tarball)", start)
    start = time.monotonic()
    base = import_base(podman)
    timed("base import", start)
    tag = f"localhost/scalinglaw-test:{uuid.uuid4().hex[:8]}"
    start = time.monotonic()
    build_image(podman, ROOT, base, tag)
    timed("image build", start)
    size = int(podman("image", "inspect", tag, "--format", "{{.Size}}").stdout)
    print(f"container size: {tag}: {size / 1e9:.2f} GB", flush=True)
    yield tag
    podman("rmi", "--force", tag)
    podman("rmi", "--force", base)


def test_image_metadata(podman: Podman, image: str) -> None:
    def field(template: str) -> str:
        return podman("image", "inspect", image, "--format", template).stdout.strip()

    assert field("{{.Config.User}}") == "10001"  # numeric: a runtime can check it is not root
    assert "service.healthcheck" in field("{{json .Config.Healthcheck}}")  # kept by --format docker
    assert field("{{.Config.StopSignal}}") == "SIGTERM"
    assert "/data" in field("{{json .Config.Volumes}}")


class Container:
    """One `podman run` of the image: its name, the host port of its gRPC port, its client."""

    def __init__(self, podman: Podman, image: str, volume: str):
        self.podman = podman
        self.name = f"scalinglaw-test-{uuid.uuid4().hex[:8]}"
        settings = {"SCALINGLAW_TOKEN": TOKEN, "SCALINGLAW_GRACE_SECONDS": "5"}
        env = [arg for key, value in settings.items() for arg in ("--env", f"{key}={value}")]
        start = time.monotonic()
        podman("run", "--detach", "--name", self.name, "--publish", "127.0.0.1::50051",
               "--volume", f"{volume}:/data", *env, image)  # fmt: skip
        self.wait_serving()
        self.started_in = timed("podman run -> gRPC health SERVING", start)

    @property
    def target(self) -> str:
        """The host side of 50051 (podman picks a free port; read again after each start)."""
        return self.podman("port", self.name, "50051/tcp").stdout.strip().splitlines()[0]

    def wait_serving(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        target = self.target
        with grpc.insecure_channel(target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                try:
                    reply = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                if self.state() != "running":
                    break
                time.sleep(0.25)
        raise AssertionError(f"{self.name} ({self.state()}) not SERVING at {target}:\n{self.logs()}")

    def state(self) -> str:
        return self.podman("inspect", self.name, "--format", "{{.State.Status}}").stdout.strip()

    def logs(self) -> str:
        done = self.podman("logs", self.name, check=False)
        return done.stdout + done.stderr

    def client(self) -> ScalingLawClient:
        return ScalingLawClient(self.target, token=TOKEN, timeout=120)

    def start(self) -> None:
        start = time.monotonic()
        self.podman("start", self.name)
        self.wait_serving()
        timed("podman start (restart) -> SERVING", start)

    def sigterm(self) -> int:
        """SIGTERM, then the exit code once the server has drained."""
        self.podman("kill", "--signal", "TERM", self.name)
        return int(self.podman("wait", self.name, timeout=60).stdout.strip())

    def remove(self) -> None:
        self.podman("rm", "--force", "--time", "0", self.name, check=False)


def test_the_image_serves_keeps_its_data_and_drains(podman: Podman, image: str) -> None:
    volume = f"scalinglaw-test-data-{uuid.uuid4().hex[:8]}"
    podman("volume", "create", volume)
    containers: list[Container] = []
    try:
        containers.append(first := Container(podman, image, volume))
        healthcheck = podman("healthcheck", "run", first.name, check=False)  # the image's HEALTHCHECK
        assert healthcheck.returncode == 0, f"HEALTHCHECK: {healthcheck.stdout}{healthcheck.stderr}"
        status = podman("exec", first.name, "cat", "/proc/1/status").stdout  # pid 1 is the server
        uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
        assert uid != "0", status

        law = get_law("step_power")
        with first.client() as client:
            conv = client.upload_curve(STEPS, law.evaluate(STEPS, CONV), policy="conventional", vocab_size=5000)
            opt = client.upload_curve(STEPS, law.evaluate(STEPS, OPT), policy="optimal", vocab_size=5000)
            (fit,) = client.fit([conv.id], x_min=400)
            assert fit.status == "converged" and fit.params["beta"] == pytest.approx(CONV["beta"], rel=1e-3)
            result = client.compare(conv.id, [opt.id], x_min=400, bootstrap=50)
            expected = acceleration_ratio(CONV, OPT, 4000).value  # the same maths on the host
            assert result.candidates[0].ar_fit[4000.0].value == pytest.approx(expected, rel=1e-2)
            assert client.report(baseline_id=conv.id, candidate_ids=[opt.id]).startswith(b"\x89PNG")
            job = client.start_training(  # torch works in the image (a job is a process of its own)
                "perceptron", steps=20, device="cpu", config=TINY, search={"outer_iters": 2}
            )
            assert [event.state for event in client.watch(job.id)][-1] == "SUCCEEDED", client.get_job(job.id)
        with ScalingLawClient(first.target) as anonymous, pytest.raises(Unauthenticated):
            anonymous.list_curves()  # SCALINGLAW_TOKEN reached the server

        assert first.sigterm() == 0, first.logs()
        assert "draining: health NOT_SERVING" in first.logs()

        first.start()  # the same container again: the curve, its points and its fit are still there
        with first.client() as client:
            assert client.get_curve(conv.id) == conv
            points = client.read_curve(conv.id)
            np.testing.assert_array_equal(points["x"], STEPS)
            np.testing.assert_array_equal(points["loss"], law.evaluate(STEPS, CONV))
            assert client.list_fits(conv.id)[0] == fit
        first.remove()

        containers.append(second := Container(podman, image, volume))  # a new container: the volume has it all
        with second.client() as client:
            assert {c.id for c in client.list_curves()} >= {conv.id, opt.id}
            assert client.get_curve(opt.id) == opt
        podman("stop", "--time", "60", second.name)  # the image's STOPSIGNAL
        assert podman("inspect", second.name, "--format", "{{.State.ExitCode}}").stdout.strip() == "0"
        assert "draining: health NOT_SERVING" in second.logs()
    finally:
        for container in containers:
            container.remove()
        podman("volume", "rm", "--force", volume, check=False)
    assert podman("ps", "--all", "--quiet").stdout.strip() == ""
    assert volume not in podman("volume", "ls", "--quiet").stdout
