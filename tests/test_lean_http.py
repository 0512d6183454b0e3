"""The lean GET client (``_lean``) behind download bodies: framing, reuse, faults (#4).

Each test runs a small scripted HTTP/1.1 server on loopback in the test's own event loop,
so the odd answers a real server rarely gives (chunked bodies, ``Connection: close``, a
socket closed while idle, a stalled or malformed answer) arrive over real sockets. The
whole download engine on the lean path is covered by the other download tests, which run
against the local Flow server with the default configuration.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from download_helpers import MiB, add_file, client_for, md5_of, payload, server_fixtures
from test_security_tls import certificate  # noqa: F401 - the module's self-signed pair

from flowbio_async import ClientConfig, FlowConnectionError, FlowTimeoutError
from flowbio_async._http import HttpClient
from flowbio_async._lean import HIGH_WATER
from flowbio_async.testing import FlowServer

pytestmark = pytest.mark.anyio

server, _clean = server_fixtures()

Reply = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[bool]]
"""Answers one request (its number, counted across connections); False closes it."""

FAST: dict[str, Any] = {"backoff_initial": 0.001, "backoff_max": 0.002, "max_retries": 0}


class Scripted:
    """A loopback HTTP/1.1 server whose every answer is written by ``reply``."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.requests: list[bytes] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                keep = await self.reply(reader, writer, len(self.requests) - 1)
                await writer.drain()
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def scripted(
    reply: Reply, context: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[Scripted, str]]:
    state = Scripted(reply)
    listener = await asyncio.start_server(state._serve, "127.0.0.1", 0, ssl=context)
    port = listener.sockets[0].getsockname()[1]
    scheme = "https" if context else "http"
    try:
        yield state, f"{scheme}://127.0.0.1:{port}/api"
    finally:
        listener.close()


def answer(body: bytes, *extra: str, status: str = "200 OK") -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def fetch(http: HttpClient, path: str = "downloads/1/a.bin") -> bytes:
    async with http.stream("GET", path, lean=True) as response:
        return b"".join([piece async for piece in response.aiter_raw()])


async def test_keep_alive_connection_is_reused() -> None:
    async def reply(_: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> bool:
        writer.write(answer(f"body {number}".encode()))
        return True

    async with scripted(reply) as (state, url):
        http = HttpClient(url, ClientConfig(**FAST))
        try:
            bodies = [await fetch(http) for _ in range(20)]
        finally:
            await http.aclose()
    assert bodies == [f"body {n}".encode() for n in range(20)]
    assert state.connections == 1
    assert b"GET /api/downloads/1/a.bin HTTP/1.1" in state.requests[0]


async def test_chunked_and_close_framed_bodies_are_read_whole_and_not_reused() -> None:
    async def reply(_: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> bool:
        if number == 0:
            writer.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            )
            return True
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
        return False

    async with scripted(reply) as (state, url):
        http = HttpClient(url, ClientConfig(**FAST))
        try:
            first = await fetch(http)
            second = await fetch(http)
        finally:
            await http.aclose()
    assert (first, second) == (b"hello world", b"until the end")
    assert state.connections == 2  # neither framing leaves a connection to reuse


async def test_connection_close_answer_is_not_reused() -> None:
    async def reply(_: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> bool:
        writer.write(answer(b"x" * 10, "Connection: close"))
        return False

    async with scripted(reply) as (state, url):
        http = HttpClient(url, ClientConfig(**FAST))
        try:
            assert [await fetch(http) for _ in range(3)] == [b"x" * 10] * 3
        finally:
            await http.aclose()
    assert state.connections == 3


async def test_socket_closed_while_idle_is_replaced_transparently() -> None:
    async def reply(_: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> bool:
        writer.write(answer(b"fresh"))  # no Connection: close, yet the server hangs up
        return False

    async with scripted(reply) as (state, url):
        http = HttpClient(url, ClientConfig(**FAST))
        try:
            first = await fetch(http)
            await asyncio.sleep(0.05)  # the close reaches the client's pooled socket
            second = await fetch(http)
        finally:
            await http.aclose()
    assert (first, second) == (b"fresh", b"fresh")
    assert state.connections == 2


async def test_body_cut_short_is_a_typed_connection_error() -> None:
    async def reply(_: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
        return False

    async with scripted(reply) as (_, url):
        http = HttpClient(url, ClientConfig(**FAST))
        try:
            with pytest.raises(FlowConnectionError, match="early"):
                await fetch(http)
        finally:
            await http.aclose()


async def test_stalled_body_is_a_typed_timeout() -> None:
    async def reply(_: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome")
        await writer.drain()
        await asyncio.sleep(2)
        return False

    async with scripted(reply) as (_, url):
        http = HttpClient(url, ClientConfig(request_timeout=timedelta(seconds=0.2), **FAST))
        try:
            with pytest.raises(FlowTimeoutError):
                await fetch(http)
        finally:
            await http.aclose()


async def test_malformed_head_is_a_typed_error_not_a_crash() -> None:
    async def reply(_: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nno colon here\r\n\r\nhello")
        return False

    async with scripted(reply) as (_, url):
        http = HttpClient(url, ClientConfig(**FAST))
        try:
            with pytest.raises(FlowConnectionError):
                await fetch(http)
        finally:
            await http.aclose()


async def test_slow_reader_pauses_the_socket_and_memory_stays_bounded() -> None:
    body = payload(24 * MiB, seed=11)

    async def reply(_: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> bool:
        writer.write(answer(body))
        return True

    async with scripted(reply) as (_, url):
        http = HttpClient(url, ClientConfig(**FAST))
        try:
            async with http.stream("GET", "big", lean=True) as response:
                answer_ = response._raw.extensions["flowbio_lean_answer"]
                protocol = answer_._connection.protocol
                pieces, peak = [], 0
                async for piece in response.aiter_raw():
                    pieces.append(piece)
                    peak = max(peak, protocol.queued)
                    await asyncio.sleep(0.001)  # a consumer slower than loopback
        finally:
            await http.aclose()
    assert b"".join(pieces) == body
    assert peak <= HIGH_WATER + 256 * 1024  # one receive past the mark at most


async def test_cancelled_body_closes_the_connection_instead_of_pooling_it() -> None:
    async def reply(_: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nstart")
        await writer.drain()
        await asyncio.sleep(1)
        return False

    async with scripted(reply) as (state, url):
        http = HttpClient(url, ClientConfig(**FAST))
        try:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.1):
                    await fetch(http)
            assert http._lean is not None and not any(http._lean._idle.values())
        finally:
            await http.aclose()
    assert state.connections == 1


async def test_https_with_a_custom_ca(certificate: tuple[Path, Path]) -> None:  # noqa: F811
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    async def reply(_: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> bool:
        writer.write(answer(b"over tls"))
        return True

    async with scripted(reply, context) as (state, url):
        refused = HttpClient(url, ClientConfig(connection_retries=0, **FAST))
        trusted = HttpClient(url, ClientConfig(verify=str(cert), **FAST))
        try:
            with pytest.raises(FlowConnectionError):
                await fetch(refused)  # default verification refuses a self-signed server
            assert [await fetch(trusted) for _ in range(3)] == [b"over tls"] * 3
        finally:
            await refused.aclose()
            await trusted.aclose()
    # The refused handshake never reached the handler; the three GETs shared one connection.
    assert (state.connections, len(state.requests)) == (1, 3)


async def test_httpx_path_still_downloads_and_resumes(server: FlowServer, tmp_path: Path) -> None:
    """``lean_downloads=False`` (and proxies) keep the httpx path: resume after cuts works."""
    content = payload(5 * MiB, seed=12)
    data_id = add_file(server, content, "httpx.bin")
    server.add_fault("cut", route="download", bytes=MiB, count=0)
    async with client_for(server, tmp_path, lean_downloads=False, download_retries=1) as client:
        assert client._http._lean is None
        result = await client.data.download(data_id, tmp_path)
    assert result.path.read_bytes() == content and result.md5 == md5_of(content)


def test_proxies_and_the_switch_keep_downloads_on_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lean client knows no proxies: with one configured, httpx carries downloads."""
    url = "http://127.0.0.1:9/api"
    assert HttpClient(url, ClientConfig())._lean is not None
    assert HttpClient(url, ClientConfig(lean_downloads=False))._lean is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    assert HttpClient(url, ClientConfig())._lean is None


async def test_a_closed_client_refuses_requests_and_streams() -> None:
    http = HttpClient("http://127.0.0.1:9/api", ClientConfig(**FAST))
    await http.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await http.request("GET", "me")
    with pytest.raises(RuntimeError, match="closed"):
        await fetch(http)
