"""The `scalinglaw` command line: a thin layer over the Python client (service/client/).

    commands.py     the parser and one function per command; `main` is the console script
    jobs.py         `scalinglaw jobs`: listing, following and cancelling training jobs
    logs.py         `scalinglaw upload` and `import-mlflow`: curves from files and tracking servers
    completion.py   shell completion generated from the parser
    demo.py         `make demo`: the perceptron study through a server of its own
    server_process.py  the server in a process of its own (the demo, benchmarks, tests)

Importing this package loads nothing: `main` and `build_parser` load the commands when called,
so a helper such as server_process.py can be imported without the CLI's start-up work.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("main", "build_parser"):
        from service.cli import commands

        return getattr(commands, name)
    raise AttributeError(f"module 'service.cli' has no attribute {name!r}")
