"""Issue #14 item 7: a server that echoes our token never gets it into a message or a log.

Only ``token=`` URL parameters were scrubbed: a 400 ``{"error": "Invalid token <tok>"}``
became ``HTTP 400: Invalid token <tok> (GET …)``, a proxy's 502 page echoing
``Authorization: Bearer <tok>`` landed in ``.message`` and ``whoami --json`` printed it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from cli_helpers import Cli
from hostile_helpers import Answer, Hostile, Seen, hostile_server

from flowbio_async import (
    AsyncClient,
    BadRequestError,
    ClientConfig,
    FlowApiError,
    ServerError,
    TokenCredentials,
    UsernamePasswordCredentials,
)
from flowbio_async._secrets import scrub

# Not JWT-shaped on purpose: the value itself must be known, no pattern would catch it.
ACCESS = "hostile-access-secret-0123456789"
REFRESH = "hostile-refresh-secret-9876543210"

pytestmark = pytest.mark.anyio


def _echo_token(seen: Seen) -> Answer:
    """A 400 that repeats the credential it received, bare and as a JSON field."""
    sent = seen.headers.get("authorization", "").removeprefix("Bearer ")
    return Answer.json({"error": f"Invalid token {sent}", "token": sent, "field": [sent]}, 400)


def _proxy_page(seen: Seen) -> Answer:
    """A proxy's 502 listing the request headers (and the refresh cookie) verbatim."""
    lines = "".join(f"<li>{k}: {v}</li>" for k, v in seen.headers.items())
    page = f"<html><h1>502 Bad Gateway</h1><ul>{lines}</ul><p>{ACCESS} {REFRESH}</p></html>"
    return Answer(502, page.encode(), {"Content-Type": "text/html"})


def _everything(exc: FlowApiError) -> str:
    return "\n".join(
        [
            str(exc),
            repr(exc),
            exc.message,
            json.dumps(exc.body, default=str),
            json.dumps(exc.details, default=str),
            json.dumps(exc.problem, default=str),
            json.dumps(dict(exc.headers)),
            str(exc.url),
        ]
    )


def _config() -> ClientConfig:
    return ClientConfig(show_progress=False, max_retries=0, backoff_initial=0.01)


async def test_a_token_echoed_in_an_error_body_is_scrubbed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with hostile_server({"/api/me": _echo_token}) as hostile:
        async with AsyncClient(hostile.api, _config()) as client:
            await client.log_in(TokenCredentials(ACCESS), verify=False)
            with pytest.raises(BadRequestError) as caught:
                await client.me()
    text = _everything(caught.value)
    assert ACCESS not in text and "REDACTED" in caught.value.message
    assert caught.value.message.startswith("Invalid token")
    assert ACCESS not in caplog.text


async def test_a_proxy_page_echoing_headers_and_the_refresh_cookie_is_scrubbed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    def login(seen: Seen) -> Answer:
        return Answer.json(
            {"token": ACCESS, "user": {"id": "1", "username": "demo"}},
            **{"Set-Cookie": f"flow_refresh_token={REFRESH}; Path=/; HttpOnly"},
        )

    with hostile_server({"/api/login": login, "/api/me": _proxy_page}) as hostile:
        async with AsyncClient(hostile.api, _config()) as client:
            await client.log_in(UsernamePasswordCredentials("demo", "demo-password"))
            with pytest.raises(ServerError) as caught:
                await client.me()
    text = _everything(caught.value)
    assert ACCESS not in text and REFRESH not in text
    assert "Bearer REDACTED" in caught.value.message
    assert ACCESS not in caplog.text and REFRESH not in caplog.text


async def test_rotated_tokens_stay_scrubbed(hostile_refresh: Hostile) -> None:
    async with AsyncClient(hostile_refresh.api, _config()) as client:
        await client.log_in(UsernamePasswordCredentials("demo", "demo-password"))
        with pytest.raises(BadRequestError) as caught:
            await client.me()  # 401, refresh (new token and cookie), then the echo
    text = _everything(caught.value)
    for secret in (ACCESS, REFRESH, ACCESS + "-2", REFRESH + "-2"):
        assert secret not in text


@pytest.fixture
def hostile_refresh() -> Hostile:
    state: dict[str, int] = {"me": 0}

    def login(seen: Seen) -> Answer:
        return Answer.json(
            {"token": ACCESS, "user": {"id": "1"}},
            **{"Set-Cookie": f"flow_refresh_token={REFRESH}; Path=/"},
        )

    def token(seen: Seen) -> Answer:
        return Answer.json(
            {"token": ACCESS + "-2"},
            **{"Set-Cookie": f"flow_refresh_token={REFRESH}-2; Path=/"},
        )

    def me(seen: Seen) -> Answer:
        state["me"] += 1
        if state["me"] == 1:
            return Answer.json({"error": "Token expired"}, 401)
        return Answer.json(
            {
                "error": f"bad {ACCESS} {REFRESH} {seen.headers.get('authorization')} "
                f"{seen.headers.get('cookie')}"
            },
            400,
        )

    with hostile_server({"/api/login": login, "/api/token": token, "/api/me": me}) as server:
        yield server  # type: ignore[misc]


def test_cli_json_error_output_is_scrubbed(tmp_path: Path) -> None:
    with hostile_server({"/api/me": _echo_token}) as hostile:
        cli = Cli(hostile.api, tmp_path)
        result = cli("whoami", "--json", env={"FLOW_API_TOKEN": ACCESS})
        plain = cli("whoami", env={"FLOW_API_TOKEN": ACCESS})
    assert result.code != 0
    document = result.error_json()
    assert ACCESS not in result.stderr and ACCESS not in result.stdout
    assert "REDACTED" in document["message"]
    assert ACCESS not in plain.stderr and "REDACTED" in plain.stderr


def test_scrub_patterns() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    assert scrub("Authorization: Bearer abc.def") == "Authorization: Bearer REDACTED"
    assert scrub(f"someone else's {jwt} here") == "someone else's REDACTED here"
    assert (
        scrub("Cookie: flow_refresh_token=xyz; a=b") == "Cookie: flow_refresh_token=REDACTED; a=b"
    )
    assert scrub("GET /x?token=abc&y=1") == "GET /x?token=REDACTED&y=1"
    assert scrub("the token expired") == "the token expired"  # words are left alone


def _jwt(expires: float) -> str:
    import base64
    import time

    def part(document: dict[str, object]) -> str:
        raw = json.dumps(document).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part({'exp': int(time.time() + expires)})}.sig"


async def test_a_refresh_cookie_rotated_away_without_any_error_stays_scrubbed() -> None:
    """Login, a proactive refresh (no error in between), then an echo of the first cookie."""

    def login(seen: Seen) -> Answer:
        return Answer.json(
            {"token": _jwt(5), "user": {"id": "1"}},  # expires within refresh_margin: refresh
            **{"Set-Cookie": f"flow_refresh_token={REFRESH}; Path=/"},
        )

    def token(seen: Seen) -> Answer:
        return Answer.json(
            {"token": _jwt(3600)}, **{"Set-Cookie": f"flow_refresh_token={REFRESH}-2; Path=/"}
        )

    def me(seen: Seen) -> Answer:
        return Answer.json({"error": f"stale session {REFRESH} (now {seen.headers})"}, 400)

    routes = {"/api/login": login, "/api/token": token, "/api/me": me}
    with hostile_server(routes) as hostile:
        async with AsyncClient(hostile.api, _config()) as client:
            await client.log_in(UsernamePasswordCredentials("demo", "demo-password"))
            with pytest.raises(BadRequestError) as caught:
                await client.me()
        assert [s.path for s in hostile.seen] == ["/api/login", "/api/token", "/api/me"]
    assert REFRESH not in _everything(caught.value)
