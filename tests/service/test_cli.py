"""The scalinglaw CLI against a real server: tables, --json, exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest

from fitting import get_law
from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from protos.scalinglaw.v1 import scalinglaw_pb2_grpc as pb_grpc
from service.cli import main
from service.client import ScalingLawClient
from tests.service.processes import ROOT, Spawn

from .conftest import RunningServer, needs_openssl, self_signed_certificate, start


def write_curve(path: Path, params: dict[str, float], seed: int, points: int = 2000) -> Path:
    steps = np.arange(1.0, points + 1.0)
    rng = np.random.default_rng(seed)
    loss = get_law("step_power").evaluate(steps, params) * np.exp(0.002 * rng.standard_normal(steps.size))
    pd.DataFrame({"step": steps, "loss": loss}).to_csv(path, index=False)
    return path


def test_upload_reads_parquet_and_json_too(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = pd.read_csv(write_curve(tmp_path / "c.csv", {"L0": 0.05, "B": 3.16e8, "beta": 0.12}, 3))
    frame.to_parquet(tmp_path / "c.parquet")
    frame.to_json(tmp_path / "c.json")
    files = [str(tmp_path / "c.parquet"), str(tmp_path / "c.json")]
    assert main(["--target", server.target, "upload", *files, "--study", "formats", "--json"]) == 0
    stored = json.loads(capsys.readouterr().out)
    assert [row["n_points"] for row in stored] == [2000, 2000]
    assert len({row["id"] for row in stored}) == 2


def test_upload_list_fit_compare(server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = ["--target", server.target]
    a = write_curve(tmp_path / "conv.csv", {"L0": 0.05, "B": 3.16e8, "beta": 0.12}, 1)
    b = write_curve(tmp_path / "opt.csv", {"L0": 0.05, "B": 1.99e7, "beta": 0.14}, 2)
    assert main([*target, "upload", str(a), str(b), "--study", "cli", "--vocab-size", "5000", "--json"]) == 0
    ids = [row["id"] for row in json.loads(capsys.readouterr().out)]
    assert main([*target, "curves", "--study", "cli"]) == 0
    table = capsys.readouterr().out
    assert "conv" in table and "opt" in table
    assert main([*target, "fit", ids[0], "--x-min", "200", "--json"]) == 0
    (fit,) = json.loads(capsys.readouterr().out)
    assert fit["params"]["beta"] == pytest.approx(0.12, rel=0.05)
    assert main([*target, "fits", ids[0], "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [fit]
    assert main([*target, "compare", ids[0], ids[1], "--x-min", "200", "--bootstrap", "50"]) == 0
    assert "AR fit [low, high]" in capsys.readouterr().out


def test_long_curves_compare_with_default_flags(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Past 2,000 points the resamples are refitted on log-spaced bins, so the server affords its
    200 resamples on long curves, and the tables say how the intervals were made."""
    paths = [
        str(write_curve(tmp_path / f"{i}.csv", {"L0": 2.0, "B": 3e3 * (1 + i / 2), "beta": 0.3}, i, points=5000))
        for i in range(3)
    ]
    assert main(["--target", server.target, "upload", *paths, "--json"]) == 0
    ids = [row["id"] for row in json.loads(capsys.readouterr().out)]
    assert main(["--target", server.target, "compare", *ids]) == 0
    out = capsys.readouterr().out
    assert "intervals: 200 bootstrap resamples" in out
    assert out.count("200 resamples refitted on") == 3 and "(the estimate uses every point)" in out


def test_exit_codes(server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = ["--target", server.target]
    assert main([*target, "fit", "c-nope"]) == 3
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"step": [1.0, 2.0, 2.0], "loss": [1.0, 0.5, 0.4]}).to_csv(bad, index=False)
    assert main([*target, "upload", str(bad)]) == 2
    assert "bad.csv row 3: step 2 does not increase" in capsys.readouterr().err  # the file's row, not chunk.x[2]
    assert main([*target, "upload", str(tmp_path / "missing.csv")]) == 2


def test_train_watch_jobs_and_report(server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = ["--target", server.target]
    argv = [*target, "train", "perceptron", "--steps", "40", "--train-size", "128", "--outer-iters", "1"]
    assert main([*argv, "--device", "cpu", "--watch", "--json"]) == 0
    job = json.loads(capsys.readouterr().out)
    assert job["state"] == "SUCCEEDED"
    assert main([*target, "jobs", job["id"]]) == 0
    assert "SUCCEEDED" in capsys.readouterr().out
    out = tmp_path / "r.svg"
    assert main([*target, "report", "--job", job["id"], "--out", str(out)]) == 0
    assert out.read_bytes().lstrip().startswith(b"<?xml")


def test_serve_flags_override_the_environment(tmp_path: Path) -> None:
    """--data-dir arrives as a str and must become a Path; --port 0 is a choice, not "unset"."""
    env = {**os.environ, "SCALINGLAW_PORT": "1", "SCALINGLAW_DATA_DIR": str(tmp_path / "env")}
    data = tmp_path / "flag"
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", "0", "--data-dir", str(data)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        output = []
        for line in iter(proc.stdout.readline, ""):  # "": it exited
            output.append(line)
            if line.startswith("scalinglaw listening on"):
                break
        port = int(output[-1].rsplit(":", 1)[1]) if "listening on" in "".join(output) else 0
        assert port not in (0, 1), "".join(output)  # 1: the environment's port, which --port 0 overrides
        with ScalingLawClient(f"127.0.0.1:{port}") as client:
            assert client.list_curves() == []
        assert (data / "scalinglaw.sqlite3").is_file() and not (tmp_path / "env").exists()
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_half_a_tls_configuration_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCALINGLAW_TLS_CERT", str(tmp_path / "cert.pem"))
    assert main(["serve", "--port", "0", "--data-dir", str(tmp_path)]) == 2
    assert "SCALINGLAW_TLS_KEY" in capsys.readouterr().err


@needs_openssl
def test_ca_cert_reaches_a_tls_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cert, key = self_signed_certificate(tmp_path)
    running = start(tmp_path, tls_cert=cert, tls_key=key)
    try:
        target = ["--target", f"localhost:{running.port}"]
        curve = write_curve(tmp_path / "c.csv", {"L0": 0.05, "B": 3.16e8, "beta": 0.12}, 1)
        assert main([*target, "--ca-cert", str(cert), "upload", str(curve), "--json"]) == 0
        (stored,) = json.loads(capsys.readouterr().out)
        monkeypatch.setenv("SCALINGLAW_TLS_CA", str(cert))
        assert main([*target, "curves"]) == 0
        assert stored["id"] in capsys.readouterr().out
        assert main([*target, "--ca-cert", str(tmp_path / "none.pem"), "curves"]) == 2
        assert "none.pem" in capsys.readouterr().err
    finally:
        running.stop()


def test_bad_files_and_paths_exit_2_naming_the_problem(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ["--target", server.target]
    timed = tmp_path / "timed.csv"
    pd.DataFrame({"time": [1.0, 2.0], "loss": [2.0, 1.0]}).to_csv(timed, index=False)
    assert main([*target, "upload", str(timed)]) == 2
    assert "no column 'step'" in capsys.readouterr().err
    assert main([*target, "upload", str(timed), "--x-col", "time", "--loss-col", "val"]) == 2
    assert "no column 'val'" in capsys.readouterr().err
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "text.parquet").write_text("not parquet")
    (tmp_path / "text.json").write_text("{not json")
    for name in ("empty.csv", "text.parquet", "text.json"):
        assert main([*target, "upload", str(tmp_path / name)]) == 2
        assert f"{name}: cannot read it" in capsys.readouterr().err
    out = tmp_path / "no-such-dir" / "r.png"
    assert main([*target, "report", "--baseline", "c-1", "--candidate", "c-2", "--out", str(out)]) == 2
    assert "--out: no such directory" in capsys.readouterr().err


# -- exit codes with the server in its own process -----------------------------------------------


def _cli_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SCALINGLAW_")}


def test_exit_codes_4_5_and_6_through_a_server_process(
    tmp_path: Path, spawn: Spawn, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [k for k in os.environ if k.startswith("SCALINGLAW_")]:
        monkeypatch.delenv(name)
    server = spawn(tmp_path, token="s3cret", max_bootstrap=100)
    target = ["--target", server.target]
    with ScalingLawClient(server.target, token="s3cret") as client:
        short = client.upload_curve([1.0, 2.0, 3.0], [3.0, 2.0, 1.5], name="three points").id
        curve = client.upload_curve(np.arange(1.0, 101.0), 2.0 + np.arange(1.0, 101.0) ** -0.5, name="fine").id

    authed = [*target, "--token", "s3cret"]
    assert main([*authed, "curves"]) == 0  # the control: the right token
    assert main([*target, "curves"]) == 5  # unauthenticated: no token
    assert main([*target, "--token", "wrong", "curves"]) == 5
    assert main([*authed, "fit", short]) == 4  # failed precondition: three points for three parameters
    assert main([*authed, "fit", curve, "--bootstrap", "101"]) == 4  # resource exhausted: over max_bootstrap
    err = capsys.readouterr().err
    assert err.count("max_bootstrap is 100") == 1 and "ask for at most 100" in err  # said once, with its fix
    assert main([*authed, "fit", curve, "--bootstrap", "100"]) == 0  # the limit itself is fine
    server.kill()
    assert main([*authed, "curves"]) == 6  # unavailable: nothing answers at the target any more
    # and as a shell sees it, from the process's exit status
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", *authed, "curves"],
        cwd=ROOT, env=_cli_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 6 and "error:" in done.stderr, done.stderr


def test_a_failed_job_exits_1_through_a_server_process(tmp_path: Path, spawn: Spawn) -> None:
    server = spawn(tmp_path)
    target = ["--target", server.target]
    argv = [*target, "train", "perceptron", "--steps", "20000", "--train-size", "64", "--outer-iters", "50"]
    watching = subprocess.Popen(
        [sys.executable, "-m", "service.cli", *argv, "--device", "cpu", "--watch", "--json"],
        cwd=ROOT, env=_cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        channel = grpc.insecure_channel(server.target)
        stub = pb_grpc.ScalingLawServiceStub(channel)
        deadline = time.monotonic() + 120
        while not (jobs := stub.ListJobs(pb.ListJobsRequest(), timeout=30).jobs):  # the CLI's job, once started
            assert time.monotonic() < deadline and watching.poll() is None, "the CLI started no job"
            time.sleep(0.05)
        channel.close()
        (job,) = jobs
        pid = None
        with ScalingLawClient(server.target) as client:
            for event in client.watch(job.id):
                if event.phase == "started":
                    pid = int(event.message.split()[-1])
                if event.phase == "conventional":
                    break
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # the job's process dies (as by the OOM killer): FAILED
        out, err = watching.communicate(timeout=120)
    finally:
        watching.kill()
    assert watching.returncode == 1, err  # `train --watch` of a job that failed
    assert json.loads(out)["state"] == "FAILED"
    assert main([*target, "jobs", job.id]) == 1  # and asking for it later
