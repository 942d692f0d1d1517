"""The project's requirements (pyproject.toml) that a script needs and this Python lacks, one a line.

    python3 bench/missing_requirements.py [--site DIR] [--all] SCRIPT

"Needs": the third-party modules that SCRIPT imports, and the modules of ours it imports, and theirs,
at module level (imports inside functions are left out: `trainers.report` pulls in matplotlib only
when a report is written). Each such module is matched to its requirement in pyproject.toml. Missing
means: no installed distribution of that name, or one whose version falls outside the range.

--site DIR: packages installed there with `pip install --no-deps --target DIR` count as installed, and
their own requirements are needed too, so calling this again after each install ends with the whole
closure installed and nothing printed (bench/gpu_transformer.sh loops so). --all prints every
requirement needed, installed or not (bench/gpu_wheels.sh downloads those). Standard library only,
and `packaging` where present (without it a version is not checked).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = ("fitting", "trainers", "service", "protos", "bench")
# requirement names whose module is named otherwise (the rest: the name with - as _)
MODULE_OF = {
    "grpcio": "grpc",
    "grpcio-health-checking": "grpc_health",
    "grpcio-reflection": "grpc_reflection",
    "grpcio-status": "grpc_status",
    "protobuf": "google",
    "pydantic-settings": "pydantic_settings",
}


def requirements() -> dict[str, str]:
    """pyproject.toml's [project] dependencies: top-level module -> requirement ("lmfit>=1.3")."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out = {}
    for requirement in project["dependencies"]:
        name = canonical(re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0])
        out[MODULE_OF.get(name, name.replace("-", "_"))] = requirement
    return out


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def module_level_imports(path: Path) -> set[str]:
    """Dotted names a file imports outside functions and classes (inside if/try blocks too)."""
    names: set[str] = set()
    pending = list(ast.parse(path.read_text()).body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.If | ast.Try | ast.With):
            for field in ("body", "orelse", "finalbody", "handlers"):
                pending.extend(getattr(node, field, []))
        elif isinstance(node, ast.ExceptHandler):
            pending.extend(node.body)
    return names


def source_of(dotted: str) -> Path | None:
    """Our module's file (a package's __init__.py), or None for a name that is no module of ours."""
    base = ROOT.joinpath(*dotted.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def third_party_modules(script: Path) -> set[str]:
    """Top-level names of the modules outside ours that the script needs at import time."""
    seen: set[Path] = set()
    pending = [script]
    found: set[str] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for dotted in module_level_imports(path):
            top = dotted.split(".")[0]
            if top not in OURS:
                found.add(top)
                continue
            parts = dotted.split(".")
            for i in range(1, len(parts) + 1):  # a package's __init__ runs before its modules
                source = source_of(".".join(parts[:i]))
                if source is not None:
                    pending.append(source)
    return found


def installed(requirement: str, site: Path | None) -> bool:
    name = canonical(re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0])
    paths = [str(site), *sys.path] if site else sys.path
    found = next(iter(d for d in metadata.distributions(path=paths) if canonical(d.metadata["Name"]) == name), None)
    if found is None:
        return False
    try:
        from packaging.requirements import Requirement
    except ImportError:
        return True
    return Requirement(requirement).specifier.contains(found.version, prereleases=True)


def site_requirements(site: Path) -> list[str]:
    """What the distributions installed in `site` require (markers for this Python applied)."""
    out = []
    for dist in metadata.distributions(path=[str(site)]):
        for requirement in dist.requires or []:
            if ";" in requirement and not _marker_holds(requirement.split(";", 1)[1]):
                continue
            out.append(requirement.split(";", 1)[0].strip())
    return out


def _marker_holds(marker: str) -> bool:
    try:
        from packaging.markers import Marker
    except ImportError:
        return "extra" not in marker  # without packaging: leave out only the extras
    return Marker(marker).evaluate({"extra": ""})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("script", type=Path)
    parser.add_argument("--site", type=Path, help="a --target folder whose packages count, with their requirements")
    parser.add_argument("--all", action="store_true", help="print every requirement needed, installed or not")
    args = parser.parse_args(argv)
    known = requirements()
    needed = [known[m] for m in sorted(third_party_modules(args.script.resolve())) if m in known]
    if args.site is not None and args.site.is_dir():
        needed += site_requirements(args.site)
    for requirement in dict.fromkeys(needed):
        if args.all or not installed(requirement, args.site):
            print(requirement)
    return 0


if __name__ == "__main__":
    sys.exit(main())
