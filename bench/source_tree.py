"""The repository's files at an earlier revision, for benchmarks that run the code before and after.

from source_tree import tree_at   # bench/ is on sys.path when a bench script runs
"""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tree_at(rev: str, directory: Path) -> Path:
    """The repository's files at `rev`, unpacked into `directory`."""
    archive = directory / "tree.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), rev], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(directory / "tree", filter="data")
    return directory / "tree"
