"""Regenerate the Python code beside scalinglaw.proto (`make protos`); never edit the output.

    python -m protos.generate [--out DIR]

Run from the repository root: imports in the generated code are `protos.scalinglaw.v1...`.
"""

from __future__ import annotations

import argparse
import sys
from importlib.resources import files
from pathlib import Path

from grpc_tools import protoc

PROTO = Path("protos/scalinglaw/v1/scalinglaw.proto")


def generate(out: Path) -> None:
    include = str(files("grpc_tools") / "_proto")  # google/protobuf/*.proto
    args = ["protoc", "-I.", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}", f"--pyi_out={out}"]
    if protoc.main([*args, str(PROTO)]) != 0:
        raise SystemExit(f"protoc failed on {PROTO}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."))
    generate(parser.parse_args().out)


if __name__ == "__main__":
    sys.exit(main())
