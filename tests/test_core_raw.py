"""Raw requests for every method (#11): ``get/post/patch/put/delete`` ``_raw`` and ``_json``,
against the local server's ``/v2/projects`` over loopback.

Each verb goes through the HTTP layer like the SDK's own calls: the token (refreshed once
on a 401), typed errors, and retries only for idempotent methods: a PUT or DELETE answered
503 is sent again, a POST or PATCH never is (checked on the server's side).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_helpers import client_for
from upload_helpers import OTHER

from flowbio_async import (
    BadRequestError,
    ConfigurationError,
    FlowApiError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    UnprocessableError,
)
from flowbio_async.testing import FlowServer


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    with FlowServer(execution_speed=0) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(server: FlowServer) -> Iterator[None]:
    server.reset()
    yield
    server.clear_faults()


def _requests(server: FlowServer, route: str) -> int:
    return server.counters().get(route, 0)


@pytest.mark.anyio
async def test_every_verb_round_trips(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        # The official client's post_raw: a JSON document sent byte for byte, text back.
        text = await client.post_raw("/v2/projects", '{"name": "Kidney atlas", "private": false}')
        created = json.loads(text)
        assert (created["name"], created["private"]) == ("Kidney atlas", False)
        path = f"v2/projects/{created['id']}"

        patched = await client.patch_json(path, {"description": "Single-cell kidney"})
        assert patched["description"] == "Single-cell kidney" and patched["name"] == "Kidney atlas"
        raw = await client.patch_raw(path, b'{"name": "Kidney atlas v2"}')
        assert json.loads(raw)["name"] == "Kidney atlas v2"

        body = {"name": "Kidney", "description": "replaced", "private": True}
        assert await client.put_json(path, body) == await client.put_json(path, body)
        assert json.loads(await client.put_raw(path, json.dumps(body)))["private"] is True
        assert (await client.get_json(path))["description"] == "replaced"
        assert json.loads(await client.get_raw(path))["name"] == "Kidney"

        assert await client.delete_json(path) is None  # 204 No Content
        with pytest.raises(NotFoundError):
            await client.delete_raw(path)
        with pytest.raises(NotFoundError):
            await client.get_json(path)

        made = await client.post_json("v2/projects", {"name": "Scratch"})
        assert await client.delete_raw(f"v2/projects/{made['id']}") == ""


@pytest.mark.anyio
async def test_refusals_are_typed_and_change_nothing(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        made = await client.post_json("v2/projects", {"name": "Stable"})
        path = f"v2/projects/{made['id']}"
        with pytest.raises(UnprocessableError) as refused:
            await client.put_json(path, {"name": "Half a body"})
        assert refused.value.code == "validation_error"
        assert {d["pointer"] for d in refused.value.details or []} == {"/description", "/private"}
        assert "/description" in str(refused.value)
        with pytest.raises(UnprocessableError) as typed:
            await client.patch_json(path, {"private": "yes", "colour": "blue"})
        assert {d["pointer"] for d in typed.value.details or []} == {"/private", "/colour"}
        assert await client.get_json(path) == made  # nothing changed

        # demo's project with samples is kept (409), and is not another user's to change.
        with pytest.raises(FlowApiError) as held:
            await client.delete_json("v2/projects/1")
        assert held.value.status_code == 409
    async with client_for(server, tmp_path / "other", credentials=OTHER) as other:
        with pytest.raises(NotFoundError):  # demo's private project: invisible to other
            await other.patch_json(path, {"name": "Mine now"})
        public = await other.get_json("v2/projects/3")  # demo's one public project
        with pytest.raises(PermissionDeniedError):
            await other.delete_json(f"v2/projects/{public['id']}")


@pytest.mark.anyio
async def test_only_idempotent_verbs_are_retried(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path, backoff_initial=0.01, backoff_max=0.02) as client:
        made = await client.post_json("v2/projects", {"name": "Retried"})
        path = f"v2/projects/{made['id']}"
        for method in ("PUT", "DELETE"):
            server.clear_faults()
            server.add_fault(method=method, path=r"^/api/v2/projects/\d+$", status=503, count=1)
            if method == "PUT":
                body = {"name": "Retried", "description": "", "private": True}
                assert (await client.put_json(path, body))["name"] == "Retried"
            else:
                assert await client.delete_json(path) is None
            [rule] = server.faults()
            assert (rule["seen"], rule["applied"]) == (2, 1)  # the 503, then the resend

        for method in ("POST", "PATCH"):
            server.clear_faults()
            server.reset_counters()
            target = "v2/projects" if method == "POST" else "v2/projects/1"
            server.add_fault(method=method, path=f"^/api/{target}$", status=503, count=1)
            with pytest.raises(ServerError):
                if method == "POST":
                    await client.post_json(target, {"name": "Twice?"})
                else:
                    await client.patch_raw(target, '{"name": "Twice?"}')
            [rule] = server.faults()
            assert rule["seen"] == 1  # sent once, never again
        projects = await client.get_json("projects/owned", {"count": 100})
        assert "Twice?" not in {p["name"] for p in projects["projects"]}


@pytest.mark.anyio
async def test_an_expired_token_is_refreshed_once_for_a_write(
    server: FlowServer, tmp_path: Path
) -> None:
    async with client_for(server, tmp_path) as client:
        server.add_fault("expire_token", method="POST", path="^/api/v2/projects$", count=1)
        made = await client.post_json("v2/projects", {"name": "After refresh"})
        assert made["name"] == "After refresh"
        assert _requests(server, "token") == 1
        [rule] = server.faults()
        assert (rule["seen"], rule["applied"]) == (2, 1)


@pytest.mark.anyio
async def test_bad_input_is_refused_before_any_request(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        server.reset_counters()
        with pytest.raises(ConfigurationError, match="API or files server"):
            await client.post_raw("https://example.org/steal", b"{}")
        with pytest.raises(ConfigurationError, match="JSON"):
            await client.post_json("v2/projects", {"when": object()})
        assert sum(server.counters().values()) == 0
        # A bad JSON document is the server's to refuse, sent unchanged: a typed 400.
        with pytest.raises(BadRequestError) as bad:
            await client.post_raw("v2/projects", b"{not json")
        assert bad.value.problem and bad.value.problem["status"] == 400
