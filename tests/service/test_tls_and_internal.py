"""TLS with a throwaway certificate, and an unexpected server fault answered as INTERNAL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from service.client import ScalingLawClient, ServerError

from .conftest import RunningServer, needs_openssl, self_signed_certificate, start


@needs_openssl
def test_tls_round_trip(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    running = start(tmp_path, tls_cert=cert, tls_key=key)
    try:
        with ScalingLawClient(f"localhost:{running.port}", root_certificates=cert.read_bytes()) as client:
            info = client.upload_curve(np.arange(1.0, 6.0), [5.0, 4.0, 3.0, 2.5, 2.2])
            assert client.get_curve(info.id).n_points == 5
    finally:
        running.stop()


def test_unexpected_fault_is_internal_without_internals(
    server: RunningServer, client: ScalingLawClient, tmp_path: Path
) -> None:
    info = client.upload_curve(np.arange(1.0, 6.0), [5.0, 4.0, 3.0, 2.5, 2.2])
    with sqlite3.connect(tmp_path / "scalinglaw.sqlite3") as db:  # a fault no request can cause
        db.execute("DROP TABLE fits")
    with pytest.raises(ServerError) as err:
        client.fit([info.id], fixed={"L0": 2.0})
    assert "internal error" in err.value.message
    assert "fits" not in err.value.message and "sqlite" not in err.value.message.lower()
    assert client.get_curve(info.id).id == info.id  # the server keeps serving
