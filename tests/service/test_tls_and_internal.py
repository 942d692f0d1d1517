"""TLS with throwaway certificates (a round trip; plaintext, an unknown CA and a wrong host name
refused), and an unexpected server fault answered as INTERNAL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from service.client import ScalingLawClient, ServerError, Unavailable

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


def _refused(target: str, root_certificates: bytes | None) -> str:
    """The message of the Unavailable a client gets; fails if the call got through."""
    client = ScalingLawClient(target, retries=0, timeout=20, root_certificates=root_certificates)
    with client, pytest.raises(Unavailable) as err:
        client.list_curves()
    return err.value.message


@needs_openssl
def test_tls_server_refuses_plaintext_an_unknown_ca_and_a_wrong_host_name(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    stranger, _ = self_signed_certificate(tmp_path, prefix="stranger-")  # same names, another key
    running = start(tmp_path, tls_cert=cert, tls_key=key)
    try:
        target = f"localhost:{running.port}"
        with ScalingLawClient(target, retries=0, timeout=20, root_certificates=cert.read_bytes()) as client:
            assert client.list_curves() == []  # the server answers those who trust it
        assert "failed to connect" in _refused(target, None)  # plaintext: the handshake never completes
        assert "CERTIFICATE_VERIFY_FAILED" in _refused(target, stranger.read_bytes())
    finally:
        running.stop()
    # a certificate its client trusts, for another host: refused for the name alone
    elsewhere, elsewhere_key = self_signed_certificate(tmp_path, "DNS:elsewhere.test", prefix="elsewhere-")
    running = start(tmp_path, tls_cert=elsewhere, tls_key=elsewhere_key)
    try:
        target = f"localhost:{running.port}"
        assert "hostname" in _refused(target, elsewhere.read_bytes()).lower()
        credentials = grpc.ssl_channel_credentials(root_certificates=elsewhere.read_bytes())
        options = [("grpc.ssl_target_name_override", "elsewhere.test")]
        with grpc.secure_channel(target, credentials, options=options) as channel:  # the name it was made for
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=20)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
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
