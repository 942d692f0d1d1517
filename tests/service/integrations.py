"""Optional packages some tests need: tensorboard and mlflow for the upload tests, ray for the Ray
executor, psycopg for PostgreSQL (the dev extra installs all four). Where one is missing its tests
skip, saying why; under its REQUIRE switch (as .ci/run sets) they fail instead, so CI never skips
them silently:

    SCALINGLAW_REQUIRE_INTEGRATIONS=1   tensorboard, mlflow
    SCALINGLAW_REQUIRE_RAY=1            ray
    SCALINGLAW_REQUIRE_POSTGRES=1       psycopg (and a PostgreSQL server: tests/service/postgres.py)
"""

from __future__ import annotations

import importlib.util
import os

import pytest


def require(module: str, extra: str, switch: str = "SCALINGLAW_REQUIRE_INTEGRATIONS") -> None:
    """Skip the test without `module`, or fail it when the switch is set to 1."""
    if importlib.util.find_spec(module) is not None:
        return
    message = f"needs the {module} package (pip install -e '.[{extra}]', or the dev extra)"
    if os.environ.get(switch) == "1":
        pytest.fail(f"{message} (and {switch}=1)")
    pytest.skip(message)
