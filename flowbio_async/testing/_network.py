"""The emulated network in front of the local server: round trip and rate caps (#13).

A small TCP relay runs in the server's launcher process, in front of granian. It forwards
bytes and knows nothing of HTTP. For every connection and each direction it

* delays every byte by half the round trip, so one request/answer exchange costs one
  round trip, and a new connection's first bytes by one more (the TCP handshake);
* paces bytes to ``connection_rate`` per connection (what nginx's ``limit_rate`` does to
  an answer; here uploads see it too) and to ``link_rate`` for all connections together
  (the client's access link);
* keeps at most :data:`WINDOW` bytes unacknowledged (a TCP window: an uncapped connection
  still tops out at ``WINDOW / rtt``, as a real one does).

The pacing is a virtual clock per connection and direction (and one for the link): bytes
read are booked on it, and the relay reads again only once they are "on the wire", so a
sender feels the cap as TCP back-pressure. The values live in a small shared memory map
(:class:`ShapeBoard`) that the worker's ``/_testing/settings`` route writes, so
``FlowServer.set(rtt_ms=...)`` takes effect on the next chunk of every open connection.

Example:
    ```python
    board = ShapeBoard.create(NetworkShape(rtt_ms=40, connection_rate=10_000_000))
    relay = Relay(("127.0.0.1", 8000), ("127.0.0.1", 8001), board)
    relay.start()          # a thread with its own event loop
    ...
    relay.stop()
    ```
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import os
import re
import socket
import struct
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

#: Environment variable naming the shape board's file (launcher → granian's worker).
NETWORK_ENV = "FLOWBIO_ASYNC_SERVER_NETWORK"

WINDOW = 4 * 1024 * 1024
"""Bytes one direction of a connection may have in flight (sent, not yet acknowledged)."""
BURST = 0.01
"""Seconds of idle credit a pacer may bank: after a pause, at most this much goes at once."""
MIN_READ, MAX_READ = 16 * 1024, 256 * 1024
"""Bounds of one read: about ``BURST`` seconds of the cap, so pacing stays smooth."""

_LAYOUT = struct.Struct("<Qddd")  # sequence, rtt_ms, connection_rate, link_rate


@dataclass(frozen=True)
class NetworkShape:
    """What the emulated network does: round trip (ms) and caps (bytes/s; 0 = none)."""

    rtt_ms: float = 0.0
    connection_rate: float = 0.0
    link_rate: float = 0.0

    @property
    def one_way(self) -> float:
        return self.rtt_ms / 2000.0


class ShapeBoard:
    """The current :class:`NetworkShape` in a memory-mapped file shared by two processes.

    A sequence number around each write (a seqlock) keeps a reader from seeing half of it.
    """

    def __init__(self, path: Path, *, owner: bool) -> None:
        self.path = path
        self._owner = owner
        self._fd = os.open(path, os.O_RDWR)
        self._map = mmap.mmap(self._fd, _LAYOUT.size)

    @classmethod
    def create(cls, shape: NetworkShape) -> ShapeBoard:
        """A new board file (removed by :meth:`close`) holding ``shape``."""
        fd, name = tempfile.mkstemp(prefix="flow-network-")
        os.write(fd, bytes(_LAYOUT.size))
        os.close(fd)
        board = cls(Path(name), owner=True)
        board.write(shape)
        return board

    @classmethod
    def attach(cls, path: str | os.PathLike[str]) -> ShapeBoard:
        """The board another process created."""
        return cls(Path(path), owner=False)

    def read(self) -> NetworkShape:
        while True:
            before, rtt, rate, link = _LAYOUT.unpack_from(self._map)
            if before % 2 == 0 and _LAYOUT.unpack_from(self._map)[0] == before:
                return NetworkShape(rtt, rate, link)

    def write(self, shape: NetworkShape) -> None:
        sequence = _LAYOUT.unpack_from(self._map)[0]
        _LAYOUT.pack_into(self._map, 0, sequence + 1, 0.0, 0.0, 0.0)
        values = (shape.rtt_ms, shape.connection_rate, shape.link_rate)
        _LAYOUT.pack_into(self._map, 0, sequence + 1, *values)
        _LAYOUT.pack_into(self._map, 0, sequence + 2, *values)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._map.close()
            os.close(self._fd)
        if self._owner:
            with contextlib.suppress(OSError):
                self.path.unlink()


def parse_rate(text: str) -> float:
    """Bytes per second from ``"10M"``, ``"10MB"``, ``"1.5MiB"``, ``"800k"`` or ``"12345"``.

    Example:
        ```python
        parse_rate("10M")    # 10_000_000.0
        parse_rate("1MiB")   # 1_048_576.0
        ```
    """
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgG]?)(i?)[bB]?(?:/s)?\s*", text)
    if match is None:
        raise ValueError(f"not a rate in bytes per second: {text!r} (e.g. 10M, 1.5MiB, 800k)")
    number, prefix, binary = match.groups()
    power = " kmg".index(prefix.lower()) if prefix else 0
    scale: int = (1024 if binary else 1000) ** power
    return float(number) * scale


class _Pacer:
    """A virtual clock: the time by which the bytes booked so far are through the cap."""

    def __init__(self) -> None:
        self.clear = 0.0

    def book(self, size: int, now: float, rate: float) -> float:
        if rate <= 0:
            return now
        start = max(self.clear, now - BURST)
        self.clear = start + size / rate
        return self.clear


class _Window:
    """Bytes in flight on one direction; the reader waits while the window is full."""

    def __init__(self) -> None:
        self.used = 0
        self._room = asyncio.Event()
        self._room.set()

    def take(self, size: int) -> None:
        self.used += size
        if self.used >= WINDOW:
            self._room.clear()

    def give(self, size: int) -> None:
        self.used -= size
        if self.used < WINDOW:
            self._room.set()

    async def wait(self) -> None:
        await self._room.wait()


_EOF = b""


class _Reset(Exception):
    """The sending side reset its connection: the other side gets a reset too."""


def _abort(writer: asyncio.StreamWriter, *, reset: bool) -> None:
    if reset:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class Relay:
    """Forwards connections on ``listen`` to ``target`` through the emulated network."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int], board: ShapeBoard) -> None:
        self.listen = listen
        self.target = target
        self.board = board
        self._link_up = _Pacer()
        self._link_down = _Pacer()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._failure: BaseException | None = None

    # -- lifecycle (called from the launcher's thread) ------------------------------------------
    def start(self, timeout: float = 10.0) -> None:
        """Listen in a daemon thread; returns once connections are accepted."""
        self._thread = threading.Thread(target=self._run, name="flow-network", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._failure is not None:
            raise RuntimeError(f"network relay did not start: {self._failure!r}")

    def stop(self) -> None:
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopped.set)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start()
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        server = await asyncio.start_server(
            self._connection, self.listen[0], self.listen[1], reuse_address=True, backlog=512
        )
        self._ready.set()
        async with server:
            await self._stopped.wait()

    # -- one connection -------------------------------------------------------------------------
    async def _connection(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        accepted = loop.time()
        _no_delay(client_writer)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _abort(client_writer, reset=True)
            return
        _no_delay(upstream_writer)
        # The handshake: the client's first bytes reach the server one round trip later.
        handshake = accepted + self.board.read().rtt_ms / 1000.0
        pair = (client_writer, upstream_writer)
        await asyncio.gather(
            self._direction(client_reader, upstream_writer, self._link_up, handshake, pair),
            self._direction(upstream_reader, client_writer, self._link_down, 0.0, pair),
        )
        for writer in pair:
            writer.close()

    async def _direction(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        link: _Pacer,
        not_before: float,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        loop = asyncio.get_running_loop()
        pacer = _Pacer()
        window = _Window()
        queue: asyncio.Queue[tuple[float, bytes | _Reset]] = asyncio.Queue()

        async def pull() -> None:
            while True:
                await window.wait()
                try:
                    data = await reader.read(_read_size(self.board.read()))
                except OSError:
                    data = None
                # Read now, not before the wait: a change applies to the bytes that follow it.
                shape = self.board.read()
                now = loop.time()
                if data is None:
                    queue.put_nowait((max(now, not_before) + shape.one_way, _Reset()))
                    return
                if not data:
                    queue.put_nowait((max(now, not_before) + shape.one_way, _EOF))
                    return
                through = max(
                    pacer.book(len(data), now, shape.connection_rate),
                    link.book(len(data), now, shape.link_rate),
                )
                window.take(len(data))
                queue.put_nowait((max(through, not_before) + shape.one_way, data))
                if through > now:
                    await asyncio.sleep(through - now)

        async def push() -> None:
            while True:
                due, item = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if isinstance(item, _Reset):
                    for other in pair:
                        _abort(other, reset=True)
                    return
                if not item:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(item)
                await writer.drain()
                # The acknowledgement travels back: the window opens half a round trip later.
                loop.call_later(self.board.read().one_way, window.give, len(item))

        puller = asyncio.ensure_future(pull())
        try:
            await push()
        except (OSError, RuntimeError):
            for other in pair:
                _abort(other, reset=True)  # one side is gone: so is the other
        finally:
            puller.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError, RuntimeError):
                await puller


def _read_size(shape: NetworkShape) -> int:
    rates = [r for r in (shape.connection_rate, shape.link_rate) if r > 0]
    if not rates:
        return MAX_READ
    return int(min(MAX_READ, max(MIN_READ, min(rates) * BURST)))


def _no_delay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
