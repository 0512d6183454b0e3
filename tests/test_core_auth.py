"""Credentials: bad input fails before any request; tokens never leak; JWT-based refresh."""

from __future__ import annotations

import base64
import json
import logging
import time
from pathlib import Path

import httpx
import pytest
import respx

from flowbio_async import (
    AsyncClient,
    ClientConfig,
    ConfigurationError,
    EnvCredentials,
    TokenCredentials,
    TokenFileCredentials,
    UsernamePasswordCredentials,
)
from flowbio_async._auth import jwt_expiry
from flowbio_async._http import HttpClient

BASE = "https://flow.test/api"


def _jwt(exp: float) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'exp': exp, 'sub': '1'})}.c2ln"


@pytest.mark.parametrize(
    ("username", "password"),
    [("", "pw"), ("   ", "pw"), ("alice", ""), (None, "pw"), ("alice", None)],
)
def test_empty_username_or_password_is_rejected(username: object, password: object) -> None:
    with pytest.raises(ConfigurationError):
        UsernamePasswordCredentials(username, password)  # type: ignore[arg-type]


@pytest.mark.parametrize("token", ["", "   ", "two words", "line\nbreak", 123])
def test_bad_tokens_are_rejected(token: object) -> None:
    with pytest.raises(ConfigurationError):
        TokenCredentials(token)  # type: ignore[arg-type]


def test_env_and_file_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOW_API_TOKEN", raising=False)
    with pytest.raises(ConfigurationError, match="FLOW_API_TOKEN"):
        EnvCredentials()
    monkeypatch.setenv("FLOW_API_TOKEN", " ")
    with pytest.raises(ConfigurationError):
        EnvCredentials()
    monkeypatch.setenv("FLOW_API_TOKEN", "env-token")
    assert "env-token" not in repr(EnvCredentials())

    with pytest.raises(ConfigurationError, match="does not exist"):
        TokenFileCredentials(tmp_path / "missing")
    bad = tmp_path / "bad"
    bad.write_text("first-token\nsecond-token\n")
    with pytest.raises(ConfigurationError, match="malformed"):
        TokenFileCredentials(bad)
    good = tmp_path / "api-token"
    good.write_text("file-token\n")
    monkeypatch.setenv("FLOW_TOKEN_FILE", str(good))
    creds = TokenFileCredentials()
    assert creds.path == good
    assert "file-token" not in repr(creds)


@pytest.mark.anyio
async def test_token_never_in_repr_str_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    secret = "very-secret-token-value"
    caplog.set_level(logging.DEBUG)
    client = AsyncClient(BASE, ClientConfig(max_retries=0, http_engine="httpx"))
    try:
        with respx.mock() as mock:
            mock.post(f"{BASE}/login").mock(
                return_value=httpx.Response(
                    200,
                    json={"token": secret},
                    headers={"Set-Cookie": "flow_refresh_token=cookie-secret; HttpOnly; Path=/"},
                )
            )
            mock.get(f"{BASE}/me").mock(
                return_value=httpx.Response(401, json={"error": "Not authorized"})
            )
            mock.get(f"{BASE}/token").mock(
                return_value=httpx.Response(400, json={"error": "Refresh token not valid"})
            )
            creds = UsernamePasswordCredentials("alice", "hunter2")
            await client.log_in(creds)
            with pytest.raises(Exception) as info:
                await client.me()
        texts = [
            repr(client),
            str(client),
            repr(creds),
            repr(client._http),
            repr(client._http.auth),
        ]
        texts += [str(info.value), repr(info.value), caplog.text]
        for text in texts:
            assert secret not in text
            assert "cookie-secret" not in text
            assert "hunter2" not in text
        assert "GET https://flow.test/api/me -> 401" in caplog.text  # logging does happen
    finally:
        await client.aclose()


def test_jwt_expiry_decodes_without_verifying() -> None:
    assert jwt_expiry(_jwt(1_900_000_000)) == 1_900_000_000.0
    assert jwt_expiry("opaque-api-key") is None
    assert jwt_expiry("a.!!!.c") is None
    assert jwt_expiry("a." + base64.urlsafe_b64encode(b'{"exp": "soon"}').decode() + ".c") is None


@pytest.mark.anyio
async def test_proactive_refresh_before_exp() -> None:
    config = ClientConfig(http_engine="httpx")  # refresh_margin 30 s; respx
    http = HttpClient(BASE, config)
    try:
        with respx.mock() as mock:
            mock.post(f"{BASE}/login").mock(
                return_value=httpx.Response(200, json={"token": _jwt(time.time() + 5)})
            )
            fresh = _jwt(time.time() + 3600)
            token = mock.get(f"{BASE}/token").mock(
                return_value=httpx.Response(200, json={"token": fresh})
            )
            me = mock.get(f"{BASE}/me").mock(return_value=httpx.Response(200, json={"id": "1"}))
            await UsernamePasswordCredentials("alice", "pw").authenticate(http)
            await http.request("GET", "me")
            await http.request("GET", "me")
        assert token.call_count == 1  # refreshed once, before the first request
        assert me.calls.last.request.headers["authorization"] == f"Bearer {fresh}"
    finally:
        await http.aclose()


@pytest.mark.anyio
async def test_token_credentials_never_refresh() -> None:
    http = HttpClient(BASE, ClientConfig(http_engine="httpx"))
    try:
        await TokenCredentials(_jwt(time.time() - 10)).authenticate(http)
        assert not http.auth.refreshable
        assert not http.auth.due(30)
    finally:
        await http.aclose()
