"""The dependency direction of DESIGN.md: fitting imports nothing of ours, torch, grpc, sqlite or env."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_IN_FITTING = {"torch", "grpc", "sqlite3", "trainers", "service", "protos", "os"}


@pytest.mark.parametrize("path", sorted((ROOT / "fitting").glob("*.py")), ids=lambda p: p.name)
def test_fitting_imports_only_maths(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN_IN_FITTING, f"{path.name} imports {name}"


def test_fitting_modules_stay_small() -> None:
    for path in (ROOT / "fitting").glob("*.py"):
        assert len(path.read_text().splitlines()) < 500, path.name
