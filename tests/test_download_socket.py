"""Large bodies read straight from the socket by a worker thread (``_socket_body``, #4)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from download_helpers import MiB, add_file, client_for, md5_of, part_files, payload

from flowbio_async import ClientConfig, FlowTimeoutError
from flowbio_async._http import HttpClient
from flowbio_async._socket_body import SocketBody
from flowbio_async._transfers import _download
from flowbio_async.testing import FlowServer

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    with FlowServer() as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(server: FlowServer) -> Iterator[None]:
    server.reset()
    yield
    server.reset()


def read_all(body: SocketBody) -> bytes:
    buffer = bytearray(MiB)
    out = bytearray(body.prefix)
    while body.remaining:
        got, error = body.readinto(memoryview(buffer), threading.Event())
        assert error is None and got > 0
        out += buffer[:got]
    return bytes(out)


@pytest.mark.parametrize("lean", [False, True], ids=["httpx", "lean"])
async def test_socket_body_returns_the_exact_bytes_and_the_client_stays_usable(
    server: FlowServer, tmp_path: Path, lean: bool
) -> None:
    content = payload(6 * MiB + 3, seed=21)
    data_id = add_file(server, content, "direct.bin")
    async with client_for(server, tmp_path) as client:
        http = client._http
        url = f"{http.files_url}/downloads/{data_id}/direct.bin"
        for _ in range(2):  # the second round needs a fresh connection: the first is spent
            headers = {"Accept-Encoding": "identity"}
            async with http.stream("GET", url, headers=headers, lean=lean) as answer:
                body = answer.socket_body()
                assert body is not None
                try:
                    assert read_all(body) == content
                    assert answer.socket_body() is None  # handed over once only
                finally:
                    body.close()
        assert (await client.data.get(data_id)).size == len(content)


@pytest.mark.parametrize("lean", [False, True], ids=["httpx", "lean"])
async def test_no_socket_body_once_httpx_started_reading(
    server: FlowServer, tmp_path: Path, lean: bool
) -> None:
    data_id = add_file(server, payload(5 * MiB, seed=22), "started.bin")
    async with client_for(server, tmp_path) as client:
        http = client._http
        url = f"{http.files_url}/downloads/{data_id}/started.bin"
        async with http.stream("GET", url, lean=lean) as answer:
            async for _ in answer.aiter_raw():
                break
            assert answer.socket_body() is None


async def test_engine_uses_the_socket_path_for_large_files(
    server: FlowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = payload(12 * MiB + 5, seed=23)
    data_id = add_file(server, content, "engine.bin")
    calls: list[int] = []
    original = _download._Job._pump_socket

    async def counting(self: Any, body: SocketBody, cursor: Any) -> None:
        calls.append(body.remaining)
        await original(self, body, cursor)

    monkeypatch.setattr(_download._Job, "_pump_socket", counting)
    async with client_for(server, tmp_path, download_buffer_size=MiB) as client:
        result = await client.data.download(data_id, tmp_path)
    assert calls, "a 12 MiB body should be read by the socket thread"
    assert result.md5 == md5_of(content) and result.path.read_bytes() == content
    assert part_files(tmp_path) == []


async def test_engine_socket_path_resumes_after_cuts(server: FlowServer, tmp_path: Path) -> None:
    content = payload(20 * MiB + 9, seed=24)
    data_id = add_file(server, content, "cuts.bin")
    server.add_fault("cut", route="download", bytes=7 * MiB, count=0)
    async with client_for(server, tmp_path, segment_threshold=1 << 40) as client:
        result = await client.data.download(data_id, tmp_path)
    assert result.md5 == md5_of(content) and result.path.read_bytes() == content


def _stalling_server(head: bytes, body: bytes) -> tuple[socket.socket, threading.Event]:
    """Answers one request with ``head`` and part of the body, then stays silent."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(head + body)
            done.wait(10)

    threading.Thread(target=serve, daemon=True).start()
    return listener, done


async def test_a_stalled_body_times_out_with_the_bytes_that_arrived(tmp_path: Path) -> None:
    sent = b"x" * 1000
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n"
    listener, done = _stalling_server(head, sent)
    port = listener.getsockname()[1]
    config = ClientConfig(
        show_progress=False, request_timeout=timedelta(seconds=0.3), state_dir=tmp_path
    )
    http = HttpClient(f"http://127.0.0.1:{port}/api", config)
    try:
        async with http.stream("GET", "file", authenticated=False) as answer:
            body = answer.socket_body()
            assert body is not None
            try:
                buffer = bytearray(MiB)
                got, error = body.readinto(memoryview(buffer), threading.Event())
                total = len(body.prefix) + got
                assert isinstance(error, FlowTimeoutError)
                assert total == len(sent) and bytes(body.prefix) + buffer[:got] == sent
            finally:
                body.close()
    finally:
        done.set()
        await http.aclose()
        listener.close()


async def test_a_stop_request_ends_the_read_early(tmp_path: Path) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n"
    listener, done = _stalling_server(head, b"")
    port = listener.getsockname()[1]
    http = HttpClient(
        f"http://127.0.0.1:{port}/api", ClientConfig(show_progress=False, state_dir=tmp_path)
    )
    try:
        async with http.stream("GET", "file", authenticated=False) as answer:
            body = answer.socket_body()
            assert body is not None
            stop = threading.Event()
            stop.set()
            try:
                assert body.readinto(memoryview(bytearray(16)), stop) == (0, None)
                assert body.remaining == 5000000
            finally:
                body.close()
    finally:
        done.set()
        await http.aclose()
        listener.close()


async def test_head_answers_offer_no_socket_body(server: FlowServer, tmp_path: Path) -> None:
    data_id = add_file(server, payload(5 * MiB, seed=25), "head.bin")
    async with client_for(server, tmp_path) as client:
        http = client._http
        async with http.stream("HEAD", f"{http.files_url}/downloads/{data_id}/head.bin") as answer:
            assert answer.headers["content-length"] == str(5 * MiB)
            assert answer.socket_body() is None


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\nContent-Encoding: gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",  # no length: read until the server closes
    ],
    ids=["chunked", "gzip", "no-length"],
)
async def test_answers_httpx_must_decode_offer_no_socket_body(tmp_path: Path, head: bytes) -> None:
    listener, done = _stalling_server(head, b"")
    port = listener.getsockname()[1]
    http = HttpClient(
        f"http://127.0.0.1:{port}/api", ClientConfig(show_progress=False, state_dir=tmp_path)
    )
    try:
        async with http.stream("GET", "file", authenticated=False) as answer:
            assert answer.socket_body() is None
    finally:
        done.set()
        await http.aclose()
        listener.close()


@pytest.mark.timeout(20)
async def test_a_reader_cancelled_before_it_started_is_not_waited_for() -> None:
    # anyio drops a worker-thread call cancelled before a thread picked it up; waiting for
    # it to finish would hang the download (found by the chaos matrix).
    calls: list[int] = []

    def never(buffer: bytearray, want: int, at: int) -> tuple[int, Exception | None]:
        calls.append(want)
        return 0, None

    with anyio.CancelScope() as scope:
        scope.cancel()
        await _download._stoppable(never, threading.Event(), bytearray(1), 1, 0)
    assert scope.cancelled_caught and calls == []


@pytest.mark.timeout(20)
async def test_a_running_reader_is_stopped_and_awaited_on_cancellation() -> None:
    started = threading.Event()
    returned = threading.Event()

    def blocking(buffer: bytearray, want: int, at: int) -> tuple[int, Exception | None]:
        started.set()
        stop.wait(10)
        returned.set()
        return 0, None

    stop = threading.Event()
    async with anyio.create_task_group() as group:

        async def run() -> None:
            await _download._stoppable(blocking, stop, bytearray(1), 1, 0)

        group.start_soon(run)
        await anyio.to_thread.run_sync(started.wait)
        group.cancel_scope.cancel()
    assert stop.is_set() and returned.is_set()  # the write had finished before we went on
