"""A token past its JWT ``exp`` is never sent (#15, SDK side), against the local server.

The server runs with Flow's quirk on (``anonymous_downgrade``): an expired token on a
search is treated as anonymous and answers 200 with public results only, so sending it
would silently hide the caller's private data. The client refreshes such a token first
and, when it cannot, fails with a clear ``AuthenticationError`` without sending anything.
Expired tokens are issued by the server itself (``access_token_ttl`` below zero).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flowbio_async import (
    AsyncClient,
    AuthenticationError,
    ClientConfig,
    TokenCredentials,
    UsernamePasswordCredentials,
)
from flowbio_async.testing import FlowServer

pytestmark = pytest.mark.anyio
DEMO = UsernamePasswordCredentials(username="demo", password="demo-password")


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    with FlowServer(anonymous_downgrade=True) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(server: FlowServer) -> Iterator[None]:
    server.reset()
    server.set(access_token_ttl=-60)  # every login hands out a token that expired already
    yield
    server.set(access_token_ttl=300)
    server.reset()


def quiet(tmp_path: Path) -> ClientConfig:
    return ClientConfig(show_progress=False, state_dir=tmp_path / "state")


async def expired_token(server: FlowServer, tmp_path: Path) -> str:
    async with AsyncClient(server.url, quiet(tmp_path)) as client:
        await client.log_in(DEMO)
        token = client._http.auth.token
    assert token is not None
    return token


async def test_sending_an_expired_token_would_hide_private_data(
    server: FlowServer, tmp_path: Path
) -> None:
    """The break itself: the server answers an expired token like an anonymous caller."""
    token = await expired_token(server, tmp_path)
    url = f"{server.url}/data/search"
    async with httpx.AsyncClient() as raw:
        with_token = await raw.get(url, headers={"Authorization": f"Bearer {token}"})
        anonymous = await raw.get(url)
    assert with_token.status_code == 200
    assert with_token.json()["count"] == anonymous.json()["count"]


async def test_an_expired_token_that_cannot_be_refreshed_is_not_sent(
    server: FlowServer, tmp_path: Path
) -> None:
    token = await expired_token(server, tmp_path)
    async with AsyncClient(server.url, quiet(tmp_path)) as client:
        await client.log_in(TokenCredentials(token), verify=False)  # no refresh cookie
        server.reset_counters()
        with pytest.raises(AuthenticationError, match=r"expired at .*; log in again") as info:
            await client.data.search(owned=True).page(1)
    assert info.value.status_code == 401
    assert token not in str(info.value)
    assert "data_search" not in server.counters()  # nothing went out


async def test_an_expired_token_is_refreshed_before_the_request(
    server: FlowServer, tmp_path: Path
) -> None:
    async with AsyncClient(server.url, quiet(tmp_path)) as client:
        await client.log_in(DEMO)  # refreshable: the login left a refresh cookie
        server.set(access_token_ttl=300)
        server.reset_counters()
        private = await client.data.search(owned=True).page(1)
        counts = server.counters()
    assert counts["token"] == 1 and counts["data_search"] == 1
    async with httpx.AsyncClient() as raw:
        anonymous = (await raw.get(f"{server.url}/data/search", params={"owned": "true"})).json()
    assert len(private) > len(anonymous["data"])  # the owner's files, not the anonymous view


async def test_a_failed_refresh_of_an_expired_token_fails_the_call_unsent(
    server: FlowServer, tmp_path: Path
) -> None:
    async with AsyncClient(server.url, quiet(tmp_path)) as client:
        await client.log_in(DEMO)
        client._http.clear_cookies()  # the refresh cookie is gone: /token will refuse
        server.reset_counters()
        with pytest.raises(AuthenticationError, match="log in again"):
            await client.data.search(owned=True).page(1)
        counts = server.counters()
    assert counts.get("token") == 1 and "data_search" not in counts
