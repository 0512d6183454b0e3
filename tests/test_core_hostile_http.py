"""Hostile answers from a raw loopback server: each break of #14 (items 3, 4, 5, 10), shown fixed.

Every test talks to ``hostile_server`` over real sockets: trickled heads and bodies, bodies
that never end, 5000 nested brackets, cut bodies, unusable URLs, bodies longer than the
recorded size. Each asserts the typed error (a ``FlowError``) and that nothing was kept
that should not be. ``anyio.fail_after`` only guards against a hang; no verdict depends on
the machine's speed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from download_helpers import quiet_config
from hostile_server import Connection, Hostile, hostile_server

from flowbio_async import (
    AsyncClient,
    BadRequestError,
    ClientConfig,
    ConfigurationError,
    FlowConnectionError,
    FlowError,
    FlowTimeoutError,
    IntegrityError,
    UnexpectedResponseError,
)

pytestmark = pytest.mark.anyio
HANG_GUARD = 60  # seconds: only a hang fails here, never a slow machine
NESTED = b"[" * 5000 + b"]" * 5000


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    with hostile_server(Hostile()) as state:
        yield state


def config(tmp_path: Path, **changes: Any) -> ClientConfig:
    """Quick to give up: one retry, one resume, a 1 s read timeout (unless changed)."""
    values: dict[str, Any] = {
        "max_retries": 1,
        "download_retries": 1,
        "request_timeout": timedelta(seconds=1),
    }
    return quiet_config(tmp_path, **{**values, **changes})


def data_record(hostile: Hostile, **fields: Any) -> None:
    record = {"id": "1", "filename": "a.bin", **fields}
    hostile.routes["/api/data/1"] = lambda c: c.json(200, json.dumps(record))


# -- #14 item 3: a total deadline; a trickle cannot keep a download alive ---------------------


async def test_a_trickled_head_hits_the_request_deadline(hostile: Hostile, tmp_path: Path) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    hostile.routes["/api/me"] = lambda c: c.trickle(head, 0.3)  # every read well within 1 s
    settings = config(tmp_path, request_deadline=timedelta(seconds=1.5))
    with anyio.fail_after(HANG_GUARD):
        async with AsyncClient(f"{hostile.url}/api", settings) as client:
            with pytest.raises(FlowTimeoutError, match="request_deadline"):
                await client.me()
    assert hostile.count("/api/me") == 2  # one retry (max_retries=1), then the typed error


async def test_a_trickled_json_body_hits_the_request_deadline(
    hostile: Hostile, tmp_path: Path
) -> None:
    def answer(c: Connection) -> None:
        c.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n")
        c.trickle(b'{"id": "1", "username": "' + b"x" * 40 + b'"}', 0.3)

    hostile.routes["/api/me"] = answer
    settings = config(tmp_path, request_deadline=timedelta(seconds=1.5), max_retries=0)
    with anyio.fail_after(HANG_GUARD):
        async with AsyncClient(f"{hostile.url}/api", settings) as client:
            with pytest.raises(FlowTimeoutError):
                await client.me()


async def test_a_trickled_download_stalls_out_and_leaves_no_file(
    hostile: Hostile, tmp_path: Path
) -> None:
    data_record(hostile, size=1000)

    def body(c: Connection) -> None:  # ignores Range: 200 and a byte every 0.3 s, each time
        c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        c.trickle(b"x" * 1000, 0.3)

    hostile.routes["/api/downloads/1/a.bin"] = body
    with anyio.fail_after(HANG_GUARD):
        async with AsyncClient(f"{hostile.url}/api", config(tmp_path)) as client:
            with pytest.raises(FlowTimeoutError, match="stalled"):
                await client.data.download("1", tmp_path / "out" / "a.bin")
    # download_retries=1: the first stall is resumed once; trickled bytes earn no more.
    assert hostile.count("/api/downloads/1/a.bin") == 2
    assert not (tmp_path / "out" / "a.bin").exists()


# -- #14 item 5: a size cap on bodies that are not downloads ----------------------------------


async def test_a_body_that_never_ends_is_cut_at_the_size_cap(
    hostile: Hostile, tmp_path: Path
) -> None:
    sent = [0]
    stop = threading.Event()

    def endless(c: Connection) -> None:
        c.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n[")
        block = b" " * 65536
        while not stop.is_set() and sent[0] < 512 * 1024 * 1024:
            c.send(block)  # raises once the client has gone away
            sent[0] += len(block)

    hostile.routes["/api/me"] = endless
    settings = config(tmp_path, max_response_size=1024 * 1024, max_retries=0)
    try:
        with anyio.fail_after(HANG_GUARD):
            async with AsyncClient(f"{hostile.url}/api", settings) as client:
                with pytest.raises(UnexpectedResponseError, match="max_response_size"):
                    await client.me()
    finally:
        stop.set()
    assert sent[0] < 256 * 1024 * 1024  # the client stopped reading long before the end


async def test_a_declared_oversized_body_is_refused_without_reading_it(
    hostile: Hostile, tmp_path: Path
) -> None:
    hostile.routes["/api/me"] = lambda c: c.send(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: 999999999999\r\n\r\n{"
    )
    with anyio.fail_after(HANG_GUARD):
        async with AsyncClient(f"{hostile.url}/api", config(tmp_path)) as client:
            with pytest.raises(UnexpectedResponseError, match="max_response_size"):
                await client.me()


# -- #14 item 4: nesting, URLs and cut bodies are typed errors --------------------------------


async def test_deeply_nested_json_is_an_unexpected_response_not_a_recursion_error(
    hostile: Hostile, tmp_path: Path
) -> None:
    hostile.routes["/api/me"] = lambda c: c.answer(
        200, NESTED, {"Content-Type": "application/json"}
    )
    hostile.routes["/api/data/search"] = lambda c: c.answer(
        200, b'{"count": 1, "data": ' + NESTED + b"}"
    )
    hostile.routes["/api/data/2"] = lambda c: c.answer(
        400, NESTED, {"Content-Type": "application/json"}
    )
    with anyio.fail_after(HANG_GUARD):
        async with AsyncClient(f"{hostile.url}/api", config(tmp_path)) as client:
            with pytest.raises(UnexpectedResponseError, match="nested too deeply"):
                await client.me()  # a 200 read
            with pytest.raises(UnexpectedResponseError, match="nested too deeply"):
                await client.data.search().page(1)  # a page
            with pytest.raises(BadRequestError) as info:
                await client.data.get("2")  # an error body: typed by status, text kept short
            assert len(info.value.message) < 1000


@pytest.mark.parametrize("bad", ["http://127.0.0.1:99999/x", "http://[::1/x"])
async def test_an_unusable_download_url_is_a_flow_error(
    hostile: Hostile, tmp_path: Path, bad: str
) -> None:
    data_record(hostile, size=3, download_url=bad)
    with anyio.fail_after(HANG_GUARD):
        async with AsyncClient(f"{hostile.url}/api", config(tmp_path)) as client:
            with pytest.raises(ConfigurationError) as info:
                await client.data.download("1", tmp_path / "a.bin")
    assert not isinstance(info.value.__cause__, ValueError)
    assert not (tmp_path / "a.bin").exists()


@pytest.mark.parametrize("bad", ["http://127.0.0.1:99999/", "http://[::1/x"])
async def test_an_unusable_redirect_location_is_an_unexpected_response(
    hostile: Hostile, tmp_path: Path, bad: str
) -> None:
    hostile.routes["/api/me"] = lambda c: c.answer(302, b"", {"Location": bad})
    with anyio.fail_after(HANG_GUARD):
        async with AsyncClient(f"{hostile.url}/api", config(tmp_path)) as client:
            with pytest.raises(UnexpectedResponseError, match="redirect") as info:
                await client.me()
    assert info.value.status_code == 302


async def test_a_workspace_file_cut_mid_body_is_a_connection_error(
    hostile: Hostile, tmp_path: Path
) -> None:
    link = json.dumps({"url": f"{hostile.url}/blob/a.txt"})
    hostile.routes["/api/v1/files/download"] = lambda c: c.json(200, link)
    # The listing gives the size the download is checked against (#14 item 6).
    listing = json.dumps([{"key": "a.txt", "name": "a.txt", "size": 1000}])
    hostile.routes["/api/v1/files"] = lambda c: c.json(200, listing)

    def cut(c: Connection) -> None:
        c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 300)

    hostile.routes["/blob/a.txt"] = cut
    with anyio.fail_after(HANG_GUARD):
        async with AsyncClient(f"{hostile.url}/api", config(tmp_path)) as client:
            with pytest.raises(FlowConnectionError):
                await client.files.download("a.txt", workspace_id="ws", dest=tmp_path)
    assert not (tmp_path / "a.txt").exists()


# -- #14 item 10: a body longer than the recorded size is refused (no md5 to catch it) --------


async def test_a_body_longer_than_the_recorded_size_is_refused(
    hostile: Hostile, tmp_path: Path
) -> None:
    data_record(hostile, size=1000)  # no md5: the size is all there is to check

    def chunked(c: Connection) -> None:
        c.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(5):
            c.send(b"3e8\r\n" + b"y" * 1000 + b"\r\n")
        c.send(b"0\r\n\r\n")

    hostile.routes["/api/downloads/1/a.bin"] = chunked
    out = tmp_path / "out"
    with anyio.fail_after(HANG_GUARD):
        async with AsyncClient(f"{hostile.url}/api", config(tmp_path)) as client:
            with pytest.raises(IntegrityError, match="more than the 1,000 bytes"):
                await client.data.download("1", out / "a.bin")
    assert sorted(p.name for p in out.iterdir()) == []  # neither the file nor a part file


async def test_every_hostile_answer_above_is_a_flow_error(hostile: Hostile, tmp_path: Path) -> None:
    """A sweep over raw answers that break HTTP itself: all typed, none leak a library error."""
    answers = {
        "/api/garbage": b"NOT HTTP AT ALL\r\n\r\n",
        "/api/badlength": b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n{}",
        "/api/badchunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "/api/badgzip": (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope"
        ),
        "/api/empty": b"",
        "/api/hugeheader": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
    }
    for path, raw in answers.items():
        hostile.routes[path] = lambda c, raw=raw: c.send(raw)
    with anyio.fail_after(HANG_GUARD):
        async with AsyncClient(f"{hostile.url}/api", config(tmp_path, max_retries=0)) as client:
            for path in answers:
                with pytest.raises(FlowError):
                    await client.get_json(path.removeprefix("/api/"))
