"""The GPU benchmark's setup, checked where there is no GPU: bench/missing_requirements.py names
what the benchmark needs from pyproject.toml (and what a package installed for it needs in turn),
and bench/gpu_transformer.py imports and, without CUDA, stops with a one-line reason."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
HELPER = [sys.executable, str(ROOT / "bench" / "missing_requirements.py")]
BENCH = str(ROOT / "bench" / "gpu_transformer.py")


def lines(*args: str) -> list[str]:
    done = subprocess.run([*HELPER, *args], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.split()


def test_the_benchmark_needs_what_fitting_and_the_trainers_import_and_no_more() -> None:
    # module-level imports only: matplotlib (the report), grpcio and pydantic (the service) stay out
    assert lines("--all", BENCH) == ["lmfit>=1.3", "numpy>=1.26", "scipy>=1.11", "torch>=2.3"]
    assert lines(BENCH) == []  # this environment has them all


def test_what_a_package_installed_for_the_benchmark_requires_is_needed_too(tmp_path: Path) -> None:
    info = tmp_path / "lmfit-9.9.dist-info"  # as `pip install --no-deps --target` leaves it
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: lmfit\nVersion: 9.9\nRequires-Dist: numpy>=1.19\n"
        "Requires-Dist: no-such-package-here>=1.0\nRequires-Dist: sphinx; extra == 'doc'\n"
    )
    assert lines("--site", str(tmp_path), BENCH) == ["no-such-package-here>=1.0"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message a machine without CUDA gets")
def test_without_cuda_the_benchmark_stops_saying_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", [BENCH])
    with pytest.raises(SystemExit) as stop:
        runpy.run_path(BENCH, run_name="__main__")
    assert str(stop.value.code).startswith("error: no CUDA device; this benchmark runs on a GPU machine")
