"""The HTTP layer against respx: retries, faults, 401 refresh, credential scoping, redirects."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest
import respx

from flowbio_async import (
    AuthenticationError,
    ClientConfig,
    ConfigurationError,
    FlowConnectionError,
    FlowTimeoutError,
    ServerError,
    UsernamePasswordCredentials,
    __version__,
)
from flowbio_async._http import HttpClient, derive_files_url, normalise_base_url

BASE = "https://flow.test/api"
FAST = ClientConfig(
    backoff_initial=0.001,
    backoff_max=0.002,
    max_retries=2,
    connection_retries=2,
    http_engine="httpx",  # respx mocks httpx's own transport
)


@pytest.fixture
async def http() -> HttpClient:
    client = HttpClient(BASE, FAST)
    yield client  # type: ignore[misc]
    await client.aclose()


def _login_route(mock: respx.MockRouter, token: str = "tok-1", cookie: str = "r1") -> respx.Route:
    return mock.post(f"{BASE}/login").mock(
        return_value=httpx.Response(
            200,
            json={"token": token, "user": {}},
            headers={"Set-Cookie": f"flow_refresh_token={cookie}; HttpOnly; Path=/"},
        )
    )


# -- URLs, headers, configuration -----------------------------------------------------------


@pytest.mark.anyio
async def test_paths_join_base_and_user_agent_is_sent(http: HttpClient) -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(f"{BASE}/me").mock(return_value=httpx.Response(200, json={"id": "1"}))
        assert (await http.request("GET", "me")).json() == {"id": "1"}
        assert (await http.request("GET", "/me")).json() == {"id": "1"}
        assert route.call_count == 2
        assert route.calls.last.request.headers["User-Agent"] == f"flowbio-async/{__version__}"
        assert "authorization" not in route.calls.last.request.headers


def test_base_url_validation_and_files_url_derivation() -> None:
    assert normalise_base_url("https://app.flow.bio/api/") == "https://app.flow.bio/api"
    for bad in ("ftp://flow.bio/api", "flow.bio/api", "https:///api", "https://x/api?a=1"):
        with pytest.raises(ConfigurationError):
            normalise_base_url(bad)
    assert derive_files_url("https://api.flow.bio", None) == "https://files.flow.bio"
    assert derive_files_url("https://acme-api.flow.bio/api", None) == "https://acme-files.flow.bio"
    assert derive_files_url("https://app.flow.bio/api", None) == "https://app.flow.bio/api"
    assert derive_files_url("http://127.0.0.1:8123/api", None) == "http://127.0.0.1:8123/api"
    assert derive_files_url(BASE, "https://files.test/") == "https://files.test"
    with pytest.raises(ConfigurationError):
        HttpClient(BASE, ClientConfig(verify="/nonexistent/ca.pem"))


@pytest.mark.anyio
async def test_rate_limit_headers_are_recorded(http: HttpClient) -> None:
    headers = {
        "X-RateLimit-Limit": "1000",
        "X-RateLimit-Remaining": "998",
        "X-RateLimit-Reset": "1640995200",
    }
    with respx.mock() as mock:
        mock.get(f"{BASE}/me").mock(return_value=httpx.Response(200, json={}, headers=headers))
        await http.request("GET", "me")
    assert http.rate_limit is not None
    assert (http.rate_limit.limit, http.rate_limit.remaining, http.rate_limit.reset) == (
        1000,
        998,
        1640995200.0,
    )


# -- retries --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_429_with_retry_after_is_waited_out(http: HttpClient) -> None:
    slept: list[float] = []
    real_sleep = anyio.sleep

    async def recording_sleep(delay: float) -> None:
        slept.append(delay)
        await real_sleep(delay)

    with respx.mock() as mock, pytest.MonkeyPatch.context() as patch:
        patch.setattr("flowbio_async._http._client.anyio.sleep", recording_sleep)
        route = mock.get(f"{BASE}/samples/types").mock(
            side_effect=[
                httpx.Response(429, json={"error": "slow down"}, headers={"Retry-After": "1"}),
                httpx.Response(200, json=[{"identifier": "rna", "name": "RNA"}]),
            ]
        )
        response = await http.request("GET", "samples/types")
    assert response.json()[0]["identifier"] == "rna"
    assert route.call_count == 2
    assert slept == [1.0]  # the server's hint, not the (tiny) configured backoff


@pytest.mark.anyio
async def test_rate_limit_reset_only_delays_429s(http: HttpClient) -> None:
    slept: list[float] = []

    async def recording_sleep(delay: float) -> None:
        slept.append(delay)

    # Flow sends X-RateLimit-Reset on every answer; on a 503 it is not a wait instruction.
    window_end = {"X-RateLimit-Reset": "5"}
    with respx.mock() as mock, pytest.MonkeyPatch.context() as patch:
        patch.setattr("flowbio_async._http._client.anyio.sleep", recording_sleep)
        mock.get(f"{BASE}/me").mock(
            side_effect=[
                httpx.Response(503, headers=window_end),
                httpx.Response(429, headers=window_end),
                httpx.Response(200, json={}),
            ]
        )
        await http.request("GET", "me")
    assert slept[0] <= FAST.backoff_max  # backoff for the 503
    assert slept[1] == 5.0  # the reset hint for the 429


@pytest.mark.anyio
async def test_idempotent_requests_retry_gateway_errors_but_posts_do_not(http: HttpClient) -> None:
    with respx.mock() as mock:
        get = mock.get(f"{BASE}/data/1").mock(
            side_effect=[
                httpx.Response(503),
                httpx.Response(502),
                httpx.Response(200, json={"id": "1"}),
            ]
        )
        assert (await http.request("GET", "data/1")).json() == {"id": "1"}
        assert get.call_count == 3

        post = mock.post(f"{BASE}/downloads").mock(return_value=httpx.Response(503, text="busy"))
        with pytest.raises(ServerError):
            await http.request("POST", "downloads", json={})
        assert post.call_count == 1

        post.reset()
        with pytest.raises(ServerError):
            await http.request("POST", "downloads", json={}, retry=True)
        assert post.call_count == 1 + FAST.max_retries

        get_always = mock.get(f"{BASE}/data/2").mock(return_value=httpx.Response(504))
        with pytest.raises(ServerError) as info:
            await http.request("GET", "data/2")
        assert get_always.call_count == 1 + FAST.max_retries
        assert info.value.status_code == 504


@pytest.mark.anyio
async def test_connect_errors_are_retried_for_any_method(http: HttpClient) -> None:
    with respx.mock() as mock:
        route = mock.post(f"{BASE}/upload").mock(
            side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json={"id": "9"})]
        )
        assert (await http.request("POST", "upload", data={"a": "1"}, retry=False)).json() == {
            "id": "9"
        }
        assert route.call_count == 2

        refused = mock.post(f"{BASE}/login").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(FlowConnectionError):
            await http.request("POST", "login", json={}, retry=False)
        assert refused.call_count == 1 + FAST.connection_retries


@pytest.mark.anyio
async def test_read_faults_map_to_transport_errors(http: HttpClient) -> None:
    with respx.mock() as mock:
        flaky = mock.get(f"{BASE}/me").mock(
            side_effect=[httpx.ReadError("reset"), httpx.Response(200, json={"id": "1"})]
        )
        assert (await http.request("GET", "me")).json() == {"id": "1"}
        assert flaky.call_count == 2

        slow = mock.post(f"{BASE}/upload").mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(FlowTimeoutError) as timeout:
            await http.request("POST", "upload", data={})
        assert slow.call_count == 1  # a POST whose body may have arrived is not resent
        assert "ReadTimeout" in str(timeout.value)

        dropped = mock.get(f"{BASE}/data/3").mock(side_effect=httpx.RemoteProtocolError("closed"))
        with pytest.raises(FlowConnectionError):
            await http.request("GET", "data/3")
        assert dropped.call_count == 1 + FAST.max_retries


# -- authentication -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_401_refreshes_once_and_resends_with_rotated_cookie(http: HttpClient) -> None:
    with respx.mock() as mock:
        _login_route(mock, token="tok-1", cookie="r1")
        cookies_seen: list[str] = []

        def token_answer(request: httpx.Request) -> httpx.Response:
            cookies_seen.append(request.headers.get("cookie", ""))
            n = len(cookies_seen)
            return httpx.Response(
                200,
                json={"token": f"tok-{n + 1}", "user": {}},
                headers={"Set-Cookie": f"flow_refresh_token=r{n + 1}; HttpOnly; Path=/"},
            )

        mock.get(f"{BASE}/token").mock(side_effect=token_answer)

        valid = {"token": "tok-2"}

        def me_answer(request: httpx.Request) -> httpx.Response:
            auth = request.headers.get("authorization")
            if auth != f"Bearer {valid['token']}":
                return httpx.Response(401, json={"error": "Not authorized"})
            return httpx.Response(200, json={"id": "1", "auth": auth})

        mock.get(f"{BASE}/me").mock(side_effect=me_answer)
        await UsernamePasswordCredentials("demo", "demo-password").authenticate(http)
        assert (await http.request("GET", "me")).json()["auth"] == "Bearer tok-2"
        valid["token"] = "tok-3"  # tok-2 expires: the next refresh must send the rotated cookie
        assert (await http.request("GET", "me")).json()["auth"] == "Bearer tok-3"
    assert cookies_seen == ["flow_refresh_token=r1", "flow_refresh_token=r2"]


@pytest.mark.anyio
async def test_failed_refresh_reraises_the_original_401(http: HttpClient) -> None:
    with respx.mock() as mock:
        _login_route(mock)
        mock.get(f"{BASE}/token").mock(
            return_value=httpx.Response(200, json={"error": "No refresh token supplied"})
        )
        me = mock.get(f"{BASE}/me").mock(
            return_value=httpx.Response(401, json={"error": "Token expired"})
        )
        await UsernamePasswordCredentials("demo", "demo-password").authenticate(http)
        with pytest.raises(AuthenticationError) as info:
            await http.request("GET", "me")
        assert info.value.message == "Token expired"
        assert me.call_count == 1


@pytest.mark.anyio
async def test_concurrent_401s_share_one_refresh(http: HttpClient) -> None:
    with respx.mock() as mock:
        _login_route(mock)
        token = mock.get(f"{BASE}/token").mock(
            return_value=httpx.Response(200, json={"token": "fresh"})
        )

        def me_answer(request: httpx.Request) -> httpx.Response:
            if request.headers.get("authorization") != "Bearer fresh":
                return httpx.Response(401, json={"error": "expired"})
            return httpx.Response(200, json={"id": "1"})

        mock.get(f"{BASE}/me").mock(side_effect=me_answer)
        await UsernamePasswordCredentials("demo", "demo-password").authenticate(http)
        results: list[int] = []

        async def one() -> None:
            results.append((await http.request("GET", "me")).status_code)

        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(one)
    assert results == [200] * 50
    assert token.call_count == 1


@pytest.mark.anyio
async def test_anonymous_401_does_not_refresh(http: HttpClient) -> None:
    with respx.mock(assert_all_called=False) as mock:
        token = mock.get(f"{BASE}/token").mock(
            return_value=httpx.Response(200, json={"token": "x"})
        )
        mock.get(f"{BASE}/projects/owned").mock(
            return_value=httpx.Response(401, json={"error": "Not authorized"})
        )
        with pytest.raises(AuthenticationError):
            await http.request("GET", "projects/owned")
    assert token.call_count == 0


@pytest.mark.anyio
async def test_credentials_go_only_to_api_and_files_hosts() -> None:
    http = HttpClient(BASE, ClientConfig(files_url="https://files.flow.test", http_engine="httpx"))
    http.auth.set("secret-token", refreshable=False)
    try:
        with respx.mock() as mock:
            api = mock.get(f"{BASE}/me").mock(return_value=httpx.Response(200, json={}))
            files = mock.get("https://files.flow.test/downloads/1/a.txt").mock(
                return_value=httpx.Response(200)
            )
            other_port = mock.get("https://flow.test:8443/x").mock(return_value=httpx.Response(200))
            s3 = mock.get("https://bucket.s3.test/a.txt").mock(return_value=httpx.Response(200))
            await http.request("GET", "me")
            await http.request("GET", "https://files.flow.test/downloads/1/a.txt")
            await http.request("GET", "https://flow.test:8443/x")
            await http.request("GET", "https://bucket.s3.test/a.txt")
        assert api.calls.last.request.headers["authorization"] == "Bearer secret-token"
        assert files.calls.last.request.headers["authorization"] == "Bearer secret-token"
        assert "authorization" not in other_port.calls.last.request.headers
        assert "authorization" not in s3.calls.last.request.headers
    finally:
        await http.aclose()


@pytest.mark.anyio
async def test_redirect_to_another_host_drops_credentials(http: HttpClient) -> None:
    http.auth.set("secret-token", refreshable=False)
    with respx.mock() as mock:
        mock.get(f"{BASE}/downloads/1/a.txt").mock(
            return_value=httpx.Response(
                302, headers={"Location": "https://bucket.s3.test/a.txt?sig=1"}
            )
        )
        s3 = mock.get("https://bucket.s3.test/a.txt").mock(
            return_value=httpx.Response(200, content=b"abc")
        )
        async with http.stream("GET", "downloads/1/a.txt") as response:
            assert response.status_code == 200
            assert await response.aread() == b"abc"
    assert "authorization" not in s3.calls.last.request.headers


@pytest.mark.anyio
async def test_stream_raises_typed_errors_with_body(http: HttpClient) -> None:
    with respx.mock() as mock:
        mock.get(f"{BASE}/downloads/9/x").mock(
            return_value=httpx.Response(410, json={"error": "gone", "code": "EXPIRED"})
        )
        with pytest.raises(Exception) as info:
            async with http.stream("GET", "downloads/9/x"):
                pass
    assert getattr(info.value, "code", None) == "EXPIRED"


@pytest.mark.anyio
async def test_login_accepts_every_token_key_variant(http: HttpClient) -> None:
    bodies = [
        {"token": "a", "user": {}},
        {"access_token": "b", "user": {"id": 1}},
        {"accessToken": "c"},
        {"data": {"login": {"accessToken": "d"}}},
    ]
    with respx.mock() as mock:
        mock.post(f"{BASE}/login").mock(side_effect=[httpx.Response(200, json=b) for b in bodies])
        seen = []
        for _ in bodies:
            await UsernamePasswordCredentials("demo", "pw").authenticate(http)
            seen.append(http.auth.token)
        assert seen == ["a", "b", "c", "d"]

        mock.post(f"{BASE}/login").mock(return_value=httpx.Response(200, json={"user": {}}))
        with pytest.raises(AuthenticationError):
            await UsernamePasswordCredentials("demo", "pw").authenticate(http)
        login = mock.post(f"{BASE}/login").mock(
            return_value=httpx.Response(400, json={"error": "Invalid credentials"})
        )
        with pytest.raises(Exception) as info:
            await UsernamePasswordCredentials("demo", "wrong").authenticate(http)
        assert info.value.__class__.__name__ == "BadRequestError"
        assert json.loads(login.calls.last.request.content) == {
            "username": "demo",
            "password": "wrong",
        }
