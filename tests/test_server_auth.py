"""Local server, docs/protocol.md §2: login, refresh cookie rotation, 401s, the anonymous quirk."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from server_helpers import DEMO, api

from flowbio_async.testing import FlowServer


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    # Own server: these tests change settings (token lifetimes, quirks).
    with FlowServer() as running:
        yield running


@pytest.fixture(autouse=True)
def _reset(server: FlowServer) -> Iterator[None]:
    yield
    server.set(
        access_token_ttl=300,
        anonymous_downgrade=False,
        rotate_refresh_token=True,
        problem_details=False,
    )
    server.reset()


def claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "==="))
    return decoded


def test_login_returns_both_token_keys_user_and_httponly_cookie(server: FlowServer) -> None:
    with httpx.Client(base_url=server.url + "/") as client:
        response = client.post("login", json=DEMO)
    assert response.status_code == 200
    body = response.json()
    assert body["token"] == body["access_token"]
    assert body["user"]["username"] == "demo" and body["user"]["id"] == "1"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("flow_refresh_token=")
    assert "HttpOnly" in cookie and "Path=/" in cookie
    refresh = cookie.split(";")[0].split("=", 1)[1]
    # Access and refresh JWTs share their header segment (docs/protocol.md §2.1).
    assert refresh.split(".")[0] == body["token"].split(".")[0]
    exp = claims(body["token"])["exp"]
    assert isinstance(exp, int) and 250 < exp - time.time() <= 300


@pytest.mark.parametrize(
    "credentials",
    [{"username": "demo", "password": "wrong"}, {"username": "nobody", "password": "x"}, {}],
)
def test_bad_credentials_are_400_invalid_credentials(
    server: FlowServer, credentials: dict[str, str]
) -> None:
    with httpx.Client(base_url=server.url + "/") as client:
        response = client.post("login", json=credentials)
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid credentials"}
    assert "set-cookie" not in response.headers


def test_refresh_rotates_cookie_and_rotated_cookie_works(server: FlowServer) -> None:
    with api(server) as client:
        first_cookie = client.cookies["flow_refresh_token"]
        refreshed = client.get("token")
        assert refreshed.status_code == 200
        assert refreshed.json()["token"].count(".") == 2
        rotated = client.cookies["flow_refresh_token"]
        assert rotated != first_cookie
        again = client.get("token")
        assert again.status_code == 200
        client.headers["Authorization"] = f"Bearer {again.json()['token']}"
        assert client.get("me").json()["username"] == "demo"
    assert server.counters()["token"] == 2


def test_refresh_without_rotation_keeps_cookie(server: FlowServer) -> None:
    server.set(rotate_refresh_token=False)
    with api(server) as client:
        response = client.get("token")
    assert response.status_code == 200
    assert "set-cookie" not in response.headers


def test_refresh_without_or_with_bad_cookie_is_400(server: FlowServer) -> None:
    with httpx.Client(base_url=server.url + "/") as client:
        missing = client.get("token")
        bad = client.get("token", headers={"Cookie": "flow_refresh_token=not-a-jwt"})
        with api(server) as logged_in:
            access = logged_in.headers["Authorization"].split()[1]
        # An access token is not a refresh token.
        wrong_kind = client.get("token", headers={"Cookie": f"flow_refresh_token={access}"})
    assert (missing.status_code, missing.json()) == (400, {"error": "No refresh token supplied"})
    assert (bad.status_code, bad.json()) == (400, {"error": "Refresh token not valid"})
    assert wrong_kind.status_code == 400


def test_protected_routes_need_a_valid_token(server: FlowServer) -> None:
    with api(server) as client:
        token = client.headers["Authorization"].split()[1]
        bare = client.get("projects/owned", headers={"Authorization": token})
        tampered = client.get("projects/owned", headers={"Authorization": f"Bearer {token}x"})
    with httpx.Client(base_url=server.url + "/") as anonymous:
        missing = anonymous.get("projects/owned")
    # docs/protocol.md §8 row 6: a bare JWT without "Bearer " is accepted too.
    assert bare.status_code == 200
    for response in (tampered, missing):
        assert response.status_code == 401
        assert response.json() == {"error": "Not authorized"}


def test_expired_access_token_is_401_and_refresh_recovers(server: FlowServer) -> None:
    server.set(access_token_ttl=-1)  # tokens are born expired
    with api(server) as client:
        assert client.get("me").status_code == 401
        server.set(access_token_ttl=300)
        fresh = client.get("token").json()["token"]
        client.headers["Authorization"] = f"Bearer {fresh}"
        assert client.get("me").json()["id"] == "1"


def test_anonymous_downgrade_quirk(server: FlowServer) -> None:
    with httpx.Client(base_url=server.url + "/") as client:
        headers = {"Authorization": "Bearer garbage"}
        assert client.get("me", headers=headers).status_code == 401
        server.set(anonymous_downgrade=True)
        me = client.get("me", headers=headers)
        assert me.status_code == 200 and me.json()["id"] is None
        # Still anonymous: protected routes answer 401.
        assert client.get("projects/owned", headers=headers).status_code == 401


def test_logout_clears_the_cookie(server: FlowServer) -> None:
    with api(server) as client:
        response = client.post("logout")
        assert response.status_code == 200
        assert 'flow_refresh_token=""' in response.headers["set-cookie"]
        assert client.get("token").status_code == 400


def test_problem_details_mode(server: FlowServer) -> None:
    server.set(problem_details=True)
    with api(server) as client:
        missing = client.get("projects/999")
        bad = client.get("projects/owned", params={"count": 1000})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["code"] == "not_found" and missing.json()["status"] == 404
    assert bad.json()["detail"] == "Cannot request more than 100 items"
