"""TLS: verification is on by default and a custom CA bundle reaches the transport (#7).

A self-signed certificate (openssl CLI) is served by a stdlib HTTPS server on loopback; the
client refuses it by default with a typed error and accepts it with ``verify=<ca file>``.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from security_helpers import Recorded, recording_server

from flowbio_async import ClientConfig, ConfigurationError, FlowConnectionError
from flowbio_async._http import HttpClient

FAST: dict[str, Any] = {"backoff_initial": 0.001, "backoff_max": 0.002, "connection_retries": 1}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def https_url(certificate: tuple[Path, Path]) -> Iterator[str]:
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with recording_server(Recorded(body=b'{"ok": true}'), context) as port:
        yield f"https://127.0.0.1:{port}/api"


async def _ping(url: str, config: ClientConfig) -> object:
    http = HttpClient(url, config)
    try:
        return (await http.request("GET", "ping", authenticated=False)).json()
    finally:
        await http.aclose()


def test_verification_is_on_by_default() -> None:
    assert ClientConfig().verify is True


@pytest.mark.anyio
async def test_self_signed_server_is_refused_by_default(https_url: str) -> None:
    with pytest.raises(FlowConnectionError) as info:
        await _ping(https_url, ClientConfig(**FAST))
    assert "certificate" in str(info.value).lower() or "ssl" in str(info.value).lower()


@pytest.mark.anyio
async def test_custom_ca_bundle_is_trusted(https_url: str, certificate: tuple[Path, Path]) -> None:
    assert await _ping(https_url, ClientConfig(verify=str(certificate[0]), **FAST)) == {"ok": True}


@pytest.mark.anyio
async def test_verify_false_skips_checks_and_a_missing_bundle_is_a_config_error(
    https_url: str, tmp_path: Path
) -> None:
    assert await _ping(https_url, ClientConfig(verify=False, **FAST)) == {"ok": True}
    with pytest.raises(ConfigurationError):
        HttpClient(https_url, ClientConfig(verify=str(tmp_path / "missing.pem")))
