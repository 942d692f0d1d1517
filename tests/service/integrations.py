"""Optional integrations the upload tests need (the tensorboard and mlflow packages, the dev extra
installs both). Where one is missing its tests skip, saying why; with
SCALINGLAW_REQUIRE_INTEGRATIONS=1 (as .ci/run sets) they fail instead, as the PostgreSQL tests do
under SCALINGLAW_REQUIRE_POSTGRES=1."""

from __future__ import annotations

import importlib.util
import os

import pytest


def require(module: str, extra: str) -> None:
    if importlib.util.find_spec(module) is not None:
        return
    message = f"needs the {module} package (pip install -e '.[{extra}]', or the dev extra)"
    if os.environ.get("SCALINGLAW_REQUIRE_INTEGRATIONS") == "1":
        pytest.fail(f"{message} (and SCALINGLAW_REQUIRE_INTEGRATIONS=1)")
    pytest.skip(message)
