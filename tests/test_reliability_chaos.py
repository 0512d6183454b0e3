"""The reliability harness itself: its fault actions work and its checks can fail (#7).

A checker that never fails proves nothing, so these tests show it catching what it exists
to catch: a corrupted download the client cannot detect (no md5 published), a stray file,
a summary whose zeros do not hold.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_helpers import api

from flowbio_async.testing import FlowServer
from flowbio_async.testing._chaos._checks import stray_files
from flowbio_async.testing._chaos._kinds import (
    CORRUPTED,
    FAILED_TYPED,
    Env,
    Outcome,
    download,
    run_with_resume,
)
from flowbio_async.testing._chaos._matrix import Summary
from flowbio_async.testing._chaos._plan import Fault, Plan, Timing, download_path
from flowbio_async.testing._store import Store
from flowbio_async.testing.chaos import chaos_config


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    with FlowServer() as running:
        yield running


@pytest.fixture
def env(server: FlowServer, tmp_path: Path) -> Iterator[Env]:
    server.reset()
    store = Store(server.data_dir)
    user = store.get_user_by_username("demo")
    assert user is not None
    yield Env(
        server, store, tmp_path / "work", chaos_config(tmp_path / "state"), Timing(1.0), user["id"]
    )
    store.close()


def test_cut_request_drops_the_upload_mid_body(server: FlowServer) -> None:
    server.add_fault("cut_request", path="^/api/upload$", bytes=1000)
    with api(server) as client:
        files = {"blob": ("a.bin", io.BytesIO(b"x" * 50_000), "application/octet-stream")}
        fields = {"filename": "a.bin", "expected_file_size": "0", "is_last": "true", "data": ""}
        with pytest.raises(httpx.TransportError):
            client.post("upload", data=fields, files=files)
        assert server.faults()[0]["applied"] == 1
        files["blob"][1].seek(0)
        assert client.post("upload", data=fields, files=files).status_code == 200


def test_expire_token_hits_only_requests_that_carry_one(server: FlowServer) -> None:
    server.add_fault("expire_token", path="^/api/(me|organisms)$", count=0)
    with api(server) as client:
        answer = client.get("me")
        assert answer.status_code == 401 and answer.json() == {"error": "Not authorized"}
    with api(server, credentials=None) as anonymous:
        assert anonymous.get("organisms").status_code == 200  # no token: served normally


@pytest.mark.anyio
async def test_a_corruption_the_client_cannot_see_is_reported(env: Env) -> None:
    # docs/protocol.md §8 row 19: md5 may be absent, then the client cannot verify; the harness,
    # which knows the bytes, must still call it corrupted.
    row = env.store.create_data(filename="no_md5.bin", owner=env.owner)
    env.store.write_blob(row["id"], bytes(range(256)) * 100)
    env.store.update_data(row["id"], md5=None)
    data_id = str(row["id"])
    dest = env.root / "out"
    dest.mkdir(parents=True)
    plan = Plan(
        [Fault("corrupt@5", {"action": "corrupt", "bytes": 5, "path": download_path(data_id)})]
    )

    async def attempt(client: object) -> list[str]:
        result = await client.data.download(data_id, dest)  # type: ignore[attr-defined]
        ok = result.path.read_bytes() == bytes(range(256)) * 100
        return [] if ok else ["bytes differ"]

    outcome = await run_with_resume(env, env.root / "state", plan, attempt)
    assert outcome.status == CORRUPTED and outcome.injected == 1


@pytest.mark.anyio
async def test_an_exhausted_budget_is_typed_and_then_resumed(env: Env) -> None:
    outcome = Outcome("download", 1, [])
    rng = random.Random(3)
    for _ in range(300):  # draw plans until one exhausts a retry budget (a few dozen)
        outcome = await download(env, rng)
        if outcome.status == FAILED_TYPED:
            break
    assert outcome.status == FAILED_TYPED
    assert outcome.resumed and outcome.strays == []


def test_stray_files_are_found_and_part_files_only_pass_when_resumable(tmp_path: Path) -> None:
    final = tmp_path / "a.bin"
    for name in ("a.bin", "b.bin.flowbio-part", "b.bin.flowbio-part.json", ".rec-1.tmp"):
        (tmp_path / name).write_bytes(b"x")
    assert stray_files(tmp_path, [final], resumable=True) == [".rec-1.tmp"]
    assert stray_files(tmp_path, [final], resumable=False) == [
        ".rec-1.tmp",
        "b.bin.flowbio-part",
        "b.bin.flowbio-part.json",
    ]


def test_summary_fails_when_a_zero_does_not_hold() -> None:
    summary = Summary(seed=1)
    summary.add(Outcome("upload", 1, ["drop"]))
    assert summary.zeros_hold()
    summary.add(Outcome("download", 1, ["corrupt@1"], status=CORRUPTED, detail="md5"))
    assert not summary.zeros_hold() and summary.corrupted == 1
    out = io.StringIO()
    summary.render(out)
    assert "RESULT               FAILED" in out.getvalue() and "md5" in out.getvalue()
