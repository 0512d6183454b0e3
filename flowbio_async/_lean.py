"""A lean HTTP/1.1 GET client on asyncio protocols, for download bodies (issue #4).

Through httpx, httpcore and anyio one 256 KiB answer costs about 1.2-1.5 ms of event-loop
CPU on this project's reference machine; an asyncio protocol that queues the bytes it is
given and parses only the head costs about 0.3 ms. Hundreds of small downloads are bound by
exactly that CPU, so ``_http`` sends streamed GETs here whenever it can (an asyncio loop, no
proxy, no test transport) and through httpx otherwise. It knows nothing of httpx: ``_http``
wraps what it returns.

h11 (httpx's own HTTP/1.1 parser) builds the request and parses the answer's head. A
``Content-Length`` body is then taken straight from the protocol's queue, and the connection
goes back to the pool once all of it was read; any other framing (chunked, until close) is
read through h11 and the connection is not reused. A connection taken from the pool that
fails before the first byte of an answer (the server closed it while idle) is replaced by a
new one once: every request sent here is a GET, safe to repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence

import h11

HIGH_WATER = 4 * 1024 * 1024
"""Bytes queued before the protocol stops reading (flow control for a slow consumer)."""
LOW_WATER = 1024 * 1024
_NO_BODY_STATUSES = frozenset({204, 304})

Origin = tuple[str, str, int]
"""``(scheme, host, port)``: connections are pooled per origin."""


class LeanError(Exception):
    """Base of the errors raised here (``_http`` maps them to its transport errors)."""


class LeanConnectError(LeanError):
    """The connection could not be established."""


class LeanConnectTimeout(LeanError):
    """The connection was not established in time."""


class LeanReadError(LeanError):
    """The connection broke (or closed) before the answer was complete."""


class LeanReadTimeout(LeanError):
    """No byte arrived within the read timeout."""


class LeanProtocolError(LeanError):
    """The server's answer is not valid HTTP/1.1."""


class _Protocol(asyncio.Protocol):
    """Queues received bytes for one reader at a time, pausing the socket when it lags."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.queued = 0
        self.eof = False
        self.error: BaseException | None = None
        self.paused = False
        self.waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.queued += len(data)
        if self.queued > HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # let asyncio close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def read(self, idle: float | None) -> bytes:
        """The next queued bytes; ``b""`` at end of stream; ``LeanReadTimeout`` when idle."""
        while not self.chunks:
            if self.eof:
                if self.error is not None:
                    raise LeanReadError(f"connection lost: {self.error}")
                return b""
            loop = asyncio.get_running_loop()
            self.waiter = waiter = loop.create_future()
            timer = None if idle is None else loop.call_later(idle, _expire, waiter)
            try:
                await waiter
            finally:
                self.waiter = None
                if timer is not None:
                    timer.cancel()
        data = self.chunks.popleft()
        self.queued -= len(data)
        if self.paused and self.queued < LOW_WATER and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return data


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(LeanReadTimeout("read timeout"))


class _Connection:
    """One pooled socket and its protocol."""

    def __init__(self, origin: Origin, transport: asyncio.Transport, protocol: _Protocol):
        self.origin = origin
        self.transport = transport
        self.protocol = protocol

    def alive(self) -> bool:
        """Idle and usable: open, no end of stream, no stray bytes from the server."""
        protocol = self.protocol
        return not (self.transport.is_closing() or protocol.eof or protocol.chunks)

    def close(self) -> None:
        self.transport.close()


class LeanAnswer:
    """The status and head of an answer, and its body to iterate once.

    Example:
        ```python
        answer = await pool.get(("http", "127.0.0.1", 8000), b"/f", headers, timeouts)
        async for piece in answer.body():
            ...
        answer.close()
        ```
    """

    def __init__(
        self,
        pool: LeanPool,
        connection: _Connection,
        parser: h11.Connection,
        head: h11.Response,
        length: int | None,
        read_timeout: float | None,
    ) -> None:
        self.status_code = head.status_code
        self.headers: list[tuple[bytes, bytes]] = list(head.headers)
        self.http_version = b"HTTP/" + head.http_version
        self.reason = head.reason
        self._pool = pool
        self._connection: _Connection | None = connection
        self._parser = parser
        self._length = length
        self._read_timeout = read_timeout
        self._reusable = length is not None and _keep_alive(head)
        self._started = False
        self._finished = False

    async def body(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive; the connection is pooled again at its end."""
        if self._started:
            raise RuntimeError("the body was already read")
        self._started = True
        if self._length is None:
            async for piece in self._framed_body():
                yield piece
        else:
            async for piece in self._counted_body(self._length):
                yield piece
        self.close()

    async def _counted_body(self, length: int) -> AsyncIterator[bytes]:
        connection = self._connection
        assert connection is not None
        remaining = length
        prefix = self._parser.trailing_data[0]
        if len(prefix) > remaining:
            self._reusable = False  # bytes past the answer: nothing is pipelined here
            prefix = prefix[:remaining]
        if prefix:
            remaining -= len(prefix)
            yield prefix
        while remaining > 0:
            data = await connection.protocol.read(self._read_timeout)
            if not data:
                self._reusable = False
                raise LeanReadError(f"the server closed the connection {remaining} bytes early")
            if len(data) > remaining:
                self._reusable = False
                data = data[:remaining]
            remaining -= len(data)
            yield data
        self._finished = True

    async def _framed_body(self) -> AsyncIterator[bytes]:
        connection = self._connection
        assert connection is not None
        parser = self._parser
        while True:
            try:
                event = parser.next_event()
            except h11.RemoteProtocolError as exc:
                raise LeanProtocolError(str(exc)) from None
            if event is h11.NEED_DATA:
                parser.receive_data(await connection.protocol.read(self._read_timeout))
            elif isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return
            else:  # ConnectionClosed before the end of the message
                raise LeanReadError("the server closed the connection before the body ended")

    def take_socket(self) -> tuple[bytes, int] | None:
        """``(body bytes already queued, duplicate socket fd)`` for a worker thread, or None.

        Only for a plain-TCP ``Content-Length`` body not yet started. The protocol stops
        reading first, so the worker owns every byte that follows; the connection is closed
        afterwards, never pooled (``_socket_body``).
        """
        connection = self._connection
        if connection is None or self._started or self._length is None:
            return None
        if connection.transport.get_extra_info("sslcontext") is not None:
            return None
        if sys.platform == "win32":  # pragma: no cover - sockets there are not descriptors
            return None
        sock = connection.transport.get_extra_info("socket")
        if sock is None:
            return None
        protocol = connection.protocol
        # Nothing below awaits, so no byte can arrive between the snapshot and the pause.
        prefix = self._parser.trailing_data[0] + b"".join(protocol.chunks)
        if len(prefix) > self._length:
            return None
        try:
            fd = os.dup(sock.fileno())
        except OSError:
            return None
        connection.transport.pause_reading()
        protocol.chunks.clear()
        protocol.queued = 0
        self._started = True
        self._reusable = False
        return prefix, fd

    def close(self) -> None:
        """Pool the connection if the whole answer was read, else close it."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._reusable and self._finished:
            self._pool.release(connection)
        else:
            connection.close()


Timeouts = tuple[float | None, float | None]
"""``(connect, read)`` seconds; ``None`` waits forever."""


class LeanPool:
    """Keep-alive connections per origin, and the GET exchange over them.

    ``ssl_context`` is called for the first ``https`` connection (httpx's own context, so
    certificates are checked exactly as for every other request).

    Example:
        ```python
        pool = LeanPool(ssl_context=lambda: ssl.create_default_context(), max_idle=64)
        answer = await pool.get(("https", "files.flow.bio", 443), b"/downloads/1/a.fq",
                                [(b"Host", b"files.flow.bio")], (10.0, 60.0))
        ```
    """

    def __init__(self, *, ssl_context: Callable[[], ssl.SSLContext], max_idle: int) -> None:
        self._ssl_factory = ssl_context
        self._ssl: ssl.SSLContext | None = None
        self._max_idle = max_idle
        self._idle: dict[Origin, list[_Connection]] = {}
        self._closed = False

    async def get(
        self,
        origin: Origin,
        target: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        timeouts: Timeouts,
    ) -> LeanAnswer:
        """Send ``GET target`` and return once the answer's head arrived."""
        if self._closed:
            raise RuntimeError("this connection pool is closed")
        connection, reused = await self._connection(origin, timeouts[0])
        try:
            return await self._exchange(connection, target, headers, timeouts[1])
        except _StaleConnection:
            # A pooled socket the server had already closed: no byte of an answer came,
            # and a GET may be sent again (module docstring).
            connection.close()
            if not reused:
                raise LeanReadError("the server closed the connection without answering") from None
        connection, _ = await self._connection(origin, timeouts[0], fresh=True)
        try:
            return await self._exchange(connection, target, headers, timeouts[1])
        except _StaleConnection:
            connection.close()
            raise LeanReadError("the server closed the connection without answering") from None

    async def _exchange(
        self,
        connection: _Connection,
        target: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        read_timeout: float | None,
    ) -> LeanAnswer:
        parser = h11.Connection(h11.CLIENT)
        ok = False
        try:
            request = h11.Request(method=b"GET", target=target, headers=list(headers))
            data = parser.send(request)
            end = parser.send(h11.EndOfMessage())
            connection.transport.write(data + end if end else data)
            head = await self._head(connection, parser, read_timeout)
            length = _body_length(head)
            answer = LeanAnswer(self, connection, parser, head, length, read_timeout)
            ok = True
            return answer
        except h11.LocalProtocolError as exc:
            raise ValueError(f"cannot send this request: {exc}") from None
        finally:
            if not ok:
                connection.close()

    async def _head(
        self, connection: _Connection, parser: h11.Connection, read_timeout: float | None
    ) -> h11.Response:
        received = False
        while True:
            try:
                event = parser.next_event()
            except h11.RemoteProtocolError as exc:
                if not received:
                    raise _StaleConnection from None
                raise LeanProtocolError(str(exc)) from None
            if event is h11.NEED_DATA:
                try:
                    data = await connection.protocol.read(read_timeout)
                except LeanReadError:
                    if not received:
                        raise _StaleConnection from None
                    raise
                received = received or bool(data)
                parser.receive_data(data)
            elif isinstance(event, h11.Response):
                return event
            elif isinstance(event, h11.InformationalResponse):
                continue  # 100 Continue and friends: the real answer follows
            else:  # ConnectionClosed
                if not received:
                    raise _StaleConnection
                raise LeanReadError("the server closed the connection during the answer's head")

    async def _connection(
        self, origin: Origin, connect_timeout: float | None, *, fresh: bool = False
    ) -> tuple[_Connection, bool]:
        idle = self._idle.get(origin)
        while idle and not fresh:
            connection = idle.pop()
            if connection.alive():
                return connection, True
            connection.close()
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = self._ssl_factory()
            context = self._ssl
        try:
            async with asyncio.timeout(connect_timeout):
                transport, protocol = await loop.create_connection(
                    _Protocol, host, port, ssl=context, server_hostname=host if context else None
                )
        except TimeoutError:
            raise LeanConnectTimeout(f"could not connect to {host}:{port} in time") from None
        except (OSError, ssl.SSLError) as exc:
            raise LeanConnectError(f"could not connect to {host}:{port}: {exc}") from None
        assert isinstance(transport, asyncio.Transport)
        _no_delay(transport)
        return _Connection(origin, transport, protocol), False

    def release(self, connection: _Connection) -> None:
        """Keep an idle connection for the next request to its origin (or close it)."""
        idle = self._idle.setdefault(connection.origin, [])
        if self._closed or len(idle) >= self._max_idle or not connection.alive():
            connection.close()
        else:
            idle.append(connection)

    def close(self) -> None:
        """Close every idle connection; answers still being read close theirs when done."""
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()


class _StaleConnection(Exception):
    """No byte of an answer arrived before the connection ended (maybe a stale socket)."""


def _body_length(head: h11.Response) -> int | None:
    """The body's length when it is ``Content-Length`` framed (0 for no body), else None."""
    if head.status_code in _NO_BODY_STATUSES:
        return 0
    # h11 gives lower-case names and has already refused conflicting lengths.
    lengths = [value for name, value in head.headers if name == b"content-length"]
    chunked = any(name == b"transfer-encoding" for name, _ in head.headers)
    if chunked or len(lengths) != 1 or not lengths[0].isdigit():
        return None  # h11 frames it
    return int(lengths[0])


def _keep_alive(head: h11.Response) -> bool:
    """Whether the server keeps the connection open after this answer (RFC 9112 §9.3)."""
    tokens = b",".join(value for name, value in head.headers if name == b"connection")
    closing = b"close" in {token.strip().lower() for token in tokens.split(b",")}
    return head.http_version == b"1.1" and not closing


def _no_delay(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in {socket.AF_INET, socket.AF_INET6}:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
