"""Issue #14 items 9 and 12: the local server's Files API keys, refresh cookies and numbers.

9. ``other`` could ask for a presigned upload of ``raw/a.txt`` in ``demo``'s workspace and PUT
   to it without confirming: ``demo`` then downloaded ``other``'s bytes; a plain
   ``other.files.upload`` of the same key removed ``demo``'s file.
12. Refresh cookies still worked after rotation and after ``logout``, and
    ``expected_file_size=inf`` gave a 500 (``OverflowError``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from download_helpers import add_file, client_for, quiet_config
from server_helpers import DEMO, OTHER, api

from flowbio_async import AsyncClient, PermissionDeniedError, UsernamePasswordCredentials
from flowbio_async.testing import FlowServer

REFRESH = "flow_refresh_token"


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    with FlowServer() as running:
        yield running


# -- item 9 -----------------------------------------------------------------------------------
def _presigned_put(client: httpx.Client, workspace: str, key_name: str, body: bytes) -> int:
    ticket = client.post(
        "v1/files/upload-url",
        json={"workspace_id": workspace, "filename": key_name, "path": "raw/", "size": len(body)},
    )
    if ticket.status_code != 200:
        return ticket.status_code
    url = ticket.json()["upload_url"]
    put = httpx.put(url, content=body, headers={"Content-Type": "application/octet-stream"})
    return put.status_code


def _download(client: httpx.Client, workspace: str, key: str) -> bytes:
    link = client.get("v1/files/download", params={"workspace_id": workspace, "key": key})
    link.raise_for_status()
    return httpx.get(link.json()["url"]).content


def test_another_user_cannot_presign_into_or_overwrite_a_workspace(
    server: FlowServer, tmp_path: Path
) -> None:
    source = tmp_path / "a.txt"
    source.write_bytes(b"demo's bytes")
    with api(server, DEMO) as demo, api(server, OTHER) as other:
        stored = demo.post(
            "v1/files/upload",
            data={"workspace_id": "ws_demo", "path": "raw/"},
            files={"file": ("a.txt", b"demo's bytes")},
        )
        assert stored.status_code == 201
        # The report's attack: a presigned upload of the same key, never confirmed.
        assert _presigned_put(other, "ws_demo", "a.txt", b"other's bytes") == 403
        plain = other.post(
            "v1/files/upload",
            data={"workspace_id": "ws_demo", "path": "raw/"},
            files={"file": ("a.txt", b"other's bytes")},
        )
        assert plain.status_code == 403
        assert other.get("v1/files", params={"workspace_id": "ws_demo"}).status_code == 403
        assert _download(demo, "ws_demo", "raw/a.txt") == b"demo's bytes"
        listed = demo.get("v1/files", params={"workspace_id": "ws_demo"}).json()
        assert [(item["key"], item["size"]) for item in listed] == [("raw/a.txt", 12)]


def test_an_unconfirmed_presigned_put_replaces_nothing(server: FlowServer) -> None:
    with api(server, DEMO) as demo:
        demo.post(
            "v1/files/upload",
            data={"workspace_id": "ws_pending", "path": "raw/"},
            files={"file": ("b.txt", b"version 1")},
        ).raise_for_status()
        assert _presigned_put(demo, "ws_pending", "b.txt", b"version 2!") == 200
        assert _download(demo, "ws_pending", "raw/b.txt") == b"version 1"  # not confirmed
        confirm = {"workspace_id": "ws_pending", "file_key": "raw/b.txt", "size": 10}
        confirmed = demo.post("v1/files/upload-confirm", json=confirm)
        assert confirmed.status_code == 200 and confirmed.json()["size"] == 10
        assert _download(demo, "ws_pending", "raw/b.txt") == b"version 2!"
        # A confirm repeated because its answer was lost replays it.
        again = demo.post("v1/files/upload-confirm", json=confirm)
        assert again.status_code == 200 and again.json() == confirmed.json()


@pytest.mark.anyio
async def test_the_sdk_sees_a_typed_refusal_for_someone_elses_workspace(
    server: FlowServer, tmp_path: Path
) -> None:
    source = tmp_path / "c.txt"
    source.write_bytes(b"demo")
    async with client_for(server, tmp_path / "demo") as demo:
        await demo.files.upload(source, workspace_id="ws_sdk")
    async with AsyncClient(server.url, quiet_config(tmp_path / "other")) as other:
        await other.log_in(UsernamePasswordCredentials("other", "other-password"))
        with pytest.raises(PermissionDeniedError):
            await other.files.upload(source, workspace_id="ws_sdk")
        with pytest.raises(PermissionDeniedError):
            await other.files.upload_large(filename="c.txt", workspace_id="ws_sdk", size=4)


# -- item 12 ----------------------------------------------------------------------------------
def _login(server: FlowServer) -> tuple[str, str]:
    response = httpx.post(f"{server.url}/login", json=DEMO)
    response.raise_for_status()
    return response.json()["token"], response.cookies[REFRESH]


def _refresh(server: FlowServer, cookie: str) -> httpx.Response:
    return httpx.get(f"{server.url}/token", headers={"Cookie": f"{REFRESH}={cookie}"})


def test_a_rotated_refresh_cookie_stops_working(server: FlowServer) -> None:
    _, first = _login(server)
    rotated = _refresh(server, first)
    assert rotated.status_code == 200
    second = rotated.cookies[REFRESH]
    assert _refresh(server, first).status_code == 400  # replay of the rotated-away cookie
    assert _refresh(server, second).status_code == 200  # the new one works (once)


def test_logout_retires_the_refresh_cookie_also_for_downloads(server: FlowServer) -> None:
    data_id = add_file(server, b"private bytes", "private.txt", private=True)
    _, cookie = _login(server)
    url = f"{server.url}/downloads/{data_id}/private.txt"
    before = httpx.get(url, headers={"Cookie": f"{REFRESH}={cookie}"})
    assert before.status_code == 200 and before.content == b"private bytes"
    logout = httpx.post(f"{server.url}/logout", headers={"Cookie": f"{REFRESH}={cookie}"})
    assert logout.status_code == 200
    assert _refresh(server, cookie).status_code == 400  # no new token after logout
    after = httpx.get(url, headers={"Cookie": f"{REFRESH}={cookie}"})
    assert after.status_code in {401, 404} and after.content != b"private bytes"


@pytest.mark.anyio
async def test_sdk_refresh_keeps_working_across_rotations(
    server: FlowServer, tmp_path: Path
) -> None:
    server.set(access_token_ttl=1)  # every request after a second needs a refresh
    try:
        async with client_for(server, tmp_path) as client:
            for _ in range(3):
                client._http.auth.set("expired.token.value", refreshable=True)
                assert (await client.me()).username == "demo"
    finally:
        server.set(access_token_ttl=300)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e999", "-1", "1.5", "12abc", "0x10"])
def test_numeric_form_fields_are_validated(server: FlowServer, value: str) -> None:
    with api(server, DEMO) as client:
        response = client.post(
            "upload",
            data={"filename": "n.txt", "expected_file_size": value},
            files={"blob": ("n.txt", b"x", "application/octet-stream")},
        )
        assert response.status_code == 400, response.text
        assert "expected_file_size" in response.text
        listing = client.get("v1/files", params={"workspace_id": "ws_n", "limit": value})
        assert listing.status_code == 400, listing.text
        ticket = client.post(
            "v1/files/upload-url",
            json={"workspace_id": "ws_n", "filename": "n.txt", "size": 1, "expires_in": value},
        )
        assert ticket.status_code == 400, ticket.text
