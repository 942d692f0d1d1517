"""The house's layout, read from the code itself (docs/architecture.md draws it):

- which room may import which: fitting/ nothing of ours, trainers/ no service, the server, the client
  and the shared service/*.py modules never each other's rooms, the client neither torch nor fitting;
- no file past 500 lines outside generated code;
- no test or benchmark helper shipped inside a product package;
- README's Layout names every module of fitting/, trainers/ and service/, and nothing that is gone.

Imports are read with `ast`, at the top of a file and inside functions alike.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GENERATED = re.compile(r"_pb2(_grpc)?\.pyi?$")
PRODUCT = ("fitting", "trainers", "service", "protos")


def python_files(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (ROOT / f).rglob("*.py") if not GENERATED.search(p.name))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def package_of(path: Path) -> str:
    """The package a file's relative imports start from."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1])


def imported(source: str, package: str) -> set[str]:
    """Every module the source imports, relative imports resolved against `package`. `from a import b`
    counts as a and as a.b, since b may be a module (`from service import client`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def offences(path: Path, forbidden: frozenset[str]) -> list[str]:
    names = imported(path.read_text(), package_of(path))
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden))


def test_the_import_reader_sees_imports_in_functions_and_relative_ones() -> None:
    source = (
        "import torch.nn\n"
        "from . import sibling\n"
        "from ..server import store\n"
        "def later():\n"
        "    from service import cli as c\n"
    )
    names = imported(source, "service.client")
    assert {"torch.nn", "service.client.sibling", "service.server.store", "service.cli"} <= names


# -- which room may import which ----------------------------------------------------------------

# The client is what a user installs beside their training code: no server, no CLI, and neither
# torch nor fitting, since the server sends what a client shows. The server and the client meet only
# on the wire. The shared modules serve both, so they may need nothing either room may not.
FITTING_MAY_NOT = frozenset({"torch", "grpc", "sqlite3", "trainers", "service", "protos", "os"})
TRAINERS_MAY_NOT = frozenset({"service", "protos", "grpc"})
CLIENT_MAY_NOT = frozenset({"service.server", "service.cli", "torch", "trainers", "fitting"})
SERVER_MAY_NOT = frozenset({"service.client", "service.cli"})
SHARED_MAY_NOT = CLIENT_MAY_NOT | {"service.client", "grpc", "grpc_health"}
HEALTHCHECK_MAY_NOT = SHARED_MAY_NOT - {"grpc", "grpc_health"}  # the container's gRPC health probe

ROOMS = [  # (folder, whether its subfolders belong to it, what it may not import)
    ("fitting", True, FITTING_MAY_NOT),
    ("trainers", True, TRAINERS_MAY_NOT),
    ("service/client", True, CLIENT_MAY_NOT),
    ("service/server", True, SERVER_MAY_NOT),
    ("service", False, SHARED_MAY_NOT),  # the shared modules; service/cli/ may use every room
]


def room_files(folder: str, deep: bool) -> list[Path]:
    return python_files(folder) if deep else sorted((ROOT / folder).glob("*.py"))


def room_cases() -> list[object]:
    cases = []
    for folder, deep, forbidden in ROOMS:
        for path in room_files(folder, deep):
            rule = HEALTHCHECK_MAY_NOT if relative(path) == "service/healthcheck.py" else forbidden
            cases.append(pytest.param(path, rule, id=relative(path)))
    return cases


@pytest.mark.parametrize(("path", "forbidden"), room_cases())
def test_imports_run_only_the_allowed_way(path: Path, forbidden: frozenset[str]) -> None:
    assert offences(path, forbidden) == [], f"{relative(path)} imports what its room may not"


def test_every_service_module_is_in_a_room() -> None:
    """A new folder under service/ must be given a rule, not pass unchecked."""
    checked = {relative(p) for folder, deep, _ in ROOMS for p in room_files(folder, deep)}
    unchecked = {relative(p) for p in python_files("service")} - checked
    assert sorted(p for p in unchecked if not p.startswith("service/cli/")) == []


# -- size and what ships ---------------------------------------------------------------------------


def test_no_file_past_500_lines() -> None:
    long = {
        relative(p): n
        for p in python_files(*PRODUCT, "tests", "bench", "examples")
        if (n := len(p.read_text().splitlines())) >= 500
    }
    assert long == {}, "split these"


TEST_TOOLS = frozenset({"pytest", "_pytest", "hypothesis"})
HELPER_NAME = re.compile(r"^(conftest|test_.*|.*_test|loadgen.*|mlflow_server.*|mlflow_process.*)\.py$")


@pytest.mark.parametrize("path", python_files(*PRODUCT), ids=relative)
def test_no_test_or_benchmark_helper_ships_in_the_product(path: Path) -> None:
    assert not HELPER_NAME.match(path.name), f"{relative(path)} is a test helper: it belongs under tests/ or bench/"
    assert offences(path, TEST_TOOLS) == [], f"{relative(path)} needs a test tool: it belongs under tests/"


# -- README's Layout ---------------------------------------------------------------------------------

ENTRY = re.compile(r"^(?P<indent> *)(?P<name>\S+)(?: {2,}(?P<what>\S.*))?$")


def layout_entries() -> dict[str, str]:
    """README's Layout, a tree of `name  what it is` lines, two spaces of indent per level: each
    entry's whole path and its description."""
    text = (ROOT / "README.md").read_text()
    assert "\n## Layout\n" in text, "README has no Layout section"
    block = text.split("\n## Layout\n", 1)[1].split("```", 2)[1]
    entries: dict[str, str] = {}
    parents: list[str] = []
    for line in block.splitlines()[1:]:  # after the fence's own line
        if not line.strip():
            continue
        m = ENTRY.match(line)
        assert m and m["what"], f"README Layout: {line!r} is not `name  what it is`"
        depth, rest = divmod(len(m["indent"]), 2)
        assert rest == 0 and depth <= len(parents), f"README Layout: {line!r} is indented oddly"
        assert all(p.endswith("/") for p in parents[:depth]), f"README Layout: {line!r} is under a file"
        parents[depth:] = [m["name"]]
        entries["".join(parents)] = m["what"]
    return entries


def test_the_layout_names_every_module() -> None:
    listed = set(layout_entries())
    modules = {relative(p) for p in python_files("fitting", "trainers", "service")}
    assert sorted(modules - listed) == [], "README's Layout leaves these out"


def test_every_path_the_layout_names_exists() -> None:
    gone = sorted(path for path in layout_entries() if not (ROOT / path).exists())
    assert gone == [], "README's Layout names what does not exist"


def test_the_layout_reader_reads_a_tree() -> None:
    """The reader itself: nesting makes whole paths, and a line without a description is refused."""
    m = ENTRY.match("    store/    SQLite or PostgreSQL")
    assert m and (len(m["indent"]), m["name"], m["what"]) == (4, "store/", "SQLite or PostgreSQL")
    bare = ENTRY.match("  sql.py")
    assert bare and bare["what"] is None
    entries = layout_entries()
    assert entries["service/server/store/sql.py"]
