"""The everyday path of the CLI against real servers: listing and following jobs, Ctrl-C and closed
pipes without tracebacks, delete, help on every flag, shell completion, readable tables, reports in
the format their file asks for."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest

from service.cli import build_parser, main
from service.cli.completion import completion_script
from service.client import ScalingLawClient
from tests.service.processes import ROOT, Spawn

from .conftest import RunningServer
from .test_cli import write_curve

CONV = {"L0": 0.05, "B": 3.16e8, "beta": 0.12}
OPT = {"L0": 0.05, "B": 1.99e7, "beta": 0.14}
TINY_JOB = ["perceptron", "--steps", "40", "--train-size", "128", "--outer-iters", "1", "--device", "cpu"]
LONG_JOB = ["perceptron", "--steps", "20000", "--train-size", "64", "--outer-iters", "50", "--device", "cpu"]


def _terminal_sigint() -> None:
    """The CLI as a terminal starts it: Ctrl-C at its default. A test run started in the
    background by a shell without job control inherits SIGINT ignored (so does Python's handler
    then), and the Ctrl-C tests would watch a CLI that cannot hear the signal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cli(*argv: str, **popen: object) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALINGLAW_")}
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", *argv],
        cwd=ROOT,
        env=env,
        text=True,
        preexec_fn=_terminal_sigint,  # one signal call between fork and exec
        **popen,  # type: ignore[call-overload]
    )


# -- the parser ----------------------------------------------------------------------------------


def _parsers(parser: argparse.ArgumentParser, path: str = "scalinglaw") -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _parsers(sub, f"{path} {name}")
    return found


def test_every_argument_of_every_command_has_help() -> None:
    missing = [
        f"{path} {action.option_strings or action.dest}"
        for path, parser in _parsers(build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction) and not (action.help and action.help != argparse.SUPPRESS)
    ]
    assert missing == []


def _complete(script: str, words: list[str]) -> list[str]:
    """What bash offers after `words` (the last one being typed), as the completion system calls it."""
    line = " ".join(words)
    program = (
        f'{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _scalinglaw; printf "%s\\n" "${{COMPREPLY[@]}}"'
    )
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion_offers_commands_flags_and_choices() -> None:
    script = completion_script(build_parser(), "bash")
    assert set(_complete(script, ["scalinglaw", "fi"])) == {"fit", "fits"}
    assert "completion" in _complete(script, ["scalinglaw", "''"])
    assert set(_complete(script, ["scalinglaw", "fit", "--me"])) == {"--method"}
    assert set(_complete(script, ["scalinglaw", "fit", "--method", "''"])) == {"robust", "paper"}
    assert set(_complete(script, ["scalinglaw", "--target", "h:1", "jobs", "--st"])) == {"--study", "--state"}
    assert set(_complete(script, ["scalinglaw", "train", "tr"])) == {"transformer-lm"}
    assert "pyproject.toml" in _complete(script, ["scalinglaw", "upload", "pyproj"])  # files for paths
    assert _complete(script, ["scalinglaw", "fit", "--x-min", "''"]) == []  # a number: nothing to offer


def test_zsh_completion_loads_the_bash_function_through_bashcompinit() -> None:
    script = completion_script(build_parser(), "zsh")
    assert script.startswith("#compdef scalinglaw") and "bashcompinit" in script and "_scalinglaw()" in script
    if shutil.which("zsh"):
        done = subprocess.run(["zsh", "-c", script + "\nwhence -w _scalinglaw"], capture_output=True, text=True)
        assert "function" in done.stdout, done.stderr


# -- tables, delete and reports, against an in-process server --------------------------------------


def _upload_pair(target: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    a = write_curve(tmp_path / "conventional.csv", CONV, 1)
    b = write_curve(tmp_path / "near-optimal.csv", OPT, 2)
    assert main([*target, "upload", str(a), str(b), "--vocab-size", "5000", "--json"]) == 0
    return [row["id"] for row in json.loads(capsys.readouterr().out)]


def test_compare_table_names_curves_and_shows_every_estimate_with_its_interval(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ["--target", server.target]
    base, cand = _upload_pair(target, tmp_path, capsys)
    argv = [*target, "compare", base, cand, "--x-min", "200", "--bootstrap", "39", "--target-loss", "4.5"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "conventional" in out and "near-optimal" in out  # names, not only ids
    header = next(line for line in out.splitlines() if line.startswith("curve "))
    assert header.split()[3:6] == ["L0", "(shared)", "B"]  # the law's order: L0, B, beta
    assert "AR fit [low, high]" in out and "AR measured [low, high]" in out
    assert "|dB/B| [low, high]" in out and "|dbeta/beta| [low, high]" in out
    speedup = next(line for line in out.splitlines() if line.startswith("near-optimal  4.5 "))
    assert speedup.count("[") == 2, speedup  # fitted and measured, each with its interval
    assert re.search(r" \d(\.\d+)?e[78] \[\d(\.\d+)?e[78], ", out), out  # B as 3.16e8 [low, high], not 316227766.0
    assert "316227766" not in out and "e+" not in out


def test_delete_removes_the_curve_and_an_unknown_id_exits_3(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ["--target", server.target]
    base, cand = _upload_pair(target, tmp_path, capsys)
    assert main([*target, "delete", base]) == 0
    assert capsys.readouterr().out.strip() == f"deleted {base}"
    assert main([*target, "curves"]) == 0
    listed = capsys.readouterr().out
    assert base not in listed and cand in listed
    assert main([*target, "delete", base]) == 3


def test_report_format_follows_the_extension_and_html_stands_alone(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ["--target", server.target]
    base, cand = _upload_pair(target, tmp_path, capsys)
    pair = ["--baseline", base, "--candidate", cand, "--x-min", "200", "--bootstrap", "39"]
    assert main([*target, "report", *pair, "--out", str(tmp_path / "r.jpg")]) == 2
    assert "use .png, .svg, .pdf, .html" in capsys.readouterr().err
    assert not (tmp_path / "r.jpg").exists()
    assert main([*target, "report", *pair, "--out", str(tmp_path / "r.pdf")]) == 0
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    html_path = tmp_path / "r.html"
    assert main([*target, "report", *pair, "--target-loss", "4", "--out", str(html_path)]) == 0
    page = html_path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<?xml" not in page
    for fetches in ("src=", "<link", "<script", "url(http", 'href="http'):  # nothing is fetched when it opens
        assert fetches not in page, fetches
    for text in ("conventional", "near-optimal", "AR fit [low, high]", "Speed-up at target loss", "x_min", "39"):
        assert text in page, text
    assert "<code>L0 + (B / x)^beta</code>" in page  # the law as the server writes it: the CLI has no fitting/
    assert "Backtest: fitted on the first part" in page and "near-optimal @ 0.8" in page  # trust in the law
    with ScalingLawClient(server.target) as client:  # the client writes the same kinds of file
        client.report(baseline_id=base, candidate_ids=[cand], path=str(tmp_path / "c.svg"), bootstrap=39)
    assert b"<svg" in (tmp_path / "c.svg").read_bytes()


# -- jobs ----------------------------------------------------------------------------------------


def test_jobs_lists_watches_and_the_client_lists(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ["--target", server.target]
    assert main([*target, "jobs"]) == 0
    assert capsys.readouterr().out.strip() == "no jobs"
    assert main([*target, "train", *TINY_JOB, "--study", "everyday", "--json"]) == 0
    job = json.loads(capsys.readouterr().out)
    assert main([*target, "jobs", job["id"], "--watch"]) == 0
    assert "SUCCEEDED" in capsys.readouterr().out
    assert main([*target, "jobs"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["job", "state", "task", "progress", "age", "study", "message"]
    assert row.split()[:6] == [job["id"], "SUCCEEDED", "perceptron", "100%", row.split()[4], "everyday"]
    assert row.split()[4].endswith(("s", "m"))
    assert main([*target, "jobs", "--state", "running"]) == 0
    assert capsys.readouterr().out.strip() == "no jobs"
    assert main([*target, "jobs", "--watch"]) == 2  # --watch needs an id
    with ScalingLawClient(server.target) as client:
        (listed,) = client.list_jobs(study="everyday")
        assert listed.id == job["id"] and listed.task == "perceptron" and listed.created_at is not None
        assert client.list_jobs(state="failed") == []


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


# gRPC's C core writes some errors straight to stderr in glog's format, whatever GRPC_VERBOSITY says
# (absl's logging before it is initialised): under load an epoll error as a stream closes. Not ours.
GRPC_CORE_LOG = re.compile(r"^[EWIF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+:\d+\]")


def _ours(stream: IO[str]) -> str:
    """The next line of the CLI's own on `stream`, past any of gRPC's C core."""
    line = stream.readline()
    while GRPC_CORE_LOG.match(line):
        line = stream.readline()
    return line


def _start_watching(argv: list[str]) -> tuple[subprocess.Popen[str], str]:
    """The CLI started, with its first line of its own. Under load its gRPC core has ended the
    process before that line, right after an epoll error on a closed descriptor (seen 3 times in
    about 15 runs of the suite; not understood yet): then, and only then, it is started once more."""
    for attempt in (1, 2):
        watching = _cli(*argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert watching.stderr is not None
        first = _ours(watching.stderr)  # the CLI says it watches, and how to leave
        if first or attempt == 2:
            return watching, first
        watching.communicate(timeout=60)  # it ended: reap it
    raise AssertionError("unreachable")


def test_ctrl_c_detaches_from_a_watched_job_which_keeps_running(tmp_path: Path, spawn: Spawn) -> None:
    server = spawn(tmp_path)
    target = ["--target", server.target]
    with ScalingLawClient(server.target) as client:
        job_id = ""
        for argv in (["train", *LONG_JOB, "--watch"], ["jobs", "JOB_ID", "--watch"]):  # the same job, followed again
            argv = [job_id if word == "JOB_ID" else word for word in argv]
            watching, first = _start_watching([*target, *argv])
            try:
                assert first.startswith("watching job ") and "Ctrl-C detaches" in first, first
                job_id = first.split()[2]
                _wait_for(lambda j=job_id: client.get_job(j).state == "RUNNING", 120, "the job did not start")
                watching.send_signal(signal.SIGINT)
                _, err = watching.communicate(timeout=60)
                err = "".join(line for line in err.splitlines(keepends=True) if not GRPC_CORE_LOG.match(line))
            finally:
                watching.kill()
            assert watching.returncode == 130, err
            assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
            assert "error" not in err, err
            assert f"detached: job {job_id} keeps running" in err
            assert f"scalinglaw --target {server.target} jobs {job_id} --watch" in err
            assert f"scalinglaw --target {server.target} jobs {job_id} --cancel" in err
            assert client.get_job(job_id).state == "RUNNING"  # Ctrl-C left it alone
        client.cancel_job(job_id)


def test_a_closed_pipe_ends_quietly(tmp_path: Path, spawn: Spawn) -> None:
    """`scalinglaw ... | head`: the reader leaves before the output is written."""
    server = spawn(tmp_path)
    with ScalingLawClient(server.target) as client:
        for i in range(3):
            client.upload_curve([1.0, 2.0, 3.0], [3.0, 2.0, 1.0], name=f"c{i}")
    for argv in (["completion", "bash"], ["--target", server.target, "curves"], ["--help"]):
        proc = _cli(*argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # before the CLI has imported anything: every write fails
        err = proc.stderr.read()
        proc.wait(timeout=60)
        assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err
        # 141 as `yes | head` reports it; argparse's --help swallows write errors itself and exits 0
        assert proc.returncode == (0 if argv == ["--help"] else 141), (argv, err)


def test_ctrl_c_inside_a_callback_python_runs_ends_the_cli_quietly() -> None:
    # Ctrl-C can land in a weakref callback of the import machinery while the CLI loads, where
    # Python prints "Exception ignored ... Traceback" and drops it. The same, made deterministic:
    code = (
        "import weakref, service.cli.commands\n"
        "class Held: pass\n"
        "def interrupted(_): raise KeyboardInterrupt\n"
        "held = Held(); ref = weakref.ref(held, interrupted); del held\n"
        "print('went on as if no key had been pressed')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 130, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    assert done.stderr.strip() == "interrupted" and "went on" not in done.stdout


@pytest.mark.parametrize("pressed", [True, False])
def test_an_import_that_ctrl_c_broke_into_another_exception_ends_quietly(pressed: bool) -> None:
    # Ctrl-C during pydantic_core's start-up made its Rust code panic (PanicException, not
    # KeyboardInterrupt) and printed a traceback. The same, made deterministic: the CLI's handler
    # has noted the key, and the import then fails with something else. Without the key, an error
    # stays an error with its traceback.
    code = (
        "import signal, service.cli.commands as cli\n"
        "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored after the imports\n"
        f"cli._interrupted_while_loading = {pressed}\n"
        "raise RuntimeError('an import that the key broke')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT, preexec_fn=_terminal_sigint
    )  # (as at a terminal: a background job of a script starts with SIGINT ignored, and the CLI leaves that alone)
    if pressed:
        assert (done.returncode, done.stderr.strip()) == (130, "interrupted"), (done.returncode, done.stderr)
    else:
        assert done.returncode == 1 and "RuntimeError: an import that the key broke" in done.stderr, done.stderr


def test_ctrl_c_while_the_cli_loads_prints_no_traceback(tmp_path: Path, spawn: Spawn) -> None:
    """Ctrl-C during the CLI's imports (grpc, pandas: a second or more). Python's own start-up,
    before any of our code runs, is a window no program can cover; the test waits past it, for
    grpc's extension to be loaded, which the CLI imports after installing its hook."""
    server = spawn(tmp_path)
    proc = _cli("--target", server.target, "jobs", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    maps = Path(f"/proc/{proc.pid}/maps")
    _wait_for(lambda: proc.poll() is not None or "cygrpc" in maps.read_text(), 60, "grpc never loaded")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    # -SIGINT: Python ends itself by the signal after the hook (a shell shows 130); 0: it had finished
    assert proc.returncode in (130, -signal.SIGINT, 0), (proc.returncode, err)
    if proc.returncode:
        assert "interrupted" in err
