"""The rest of a download's body, read straight from its socket by a worker thread (#4).

httpx (h11 over asyncio) hands a body over in pieces of at most 256 KiB, each copied a few
times and each costing an event-loop round trip: for a large file that is as much CPU as
the disk writes and the md5 together. Once the answer's headers are checked, ``_http`` can
hand over a duplicate of the connection's socket descriptor plus the bytes it had already
buffered; a worker thread then fills large buffers with ``recv_into`` (the GIL is released,
no copy beyond the kernel's). The connection is never reused afterwards: httpcore closes it
because its parser did not see the end of the body.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time

from flowbio_async._errors import FlowConnectionError, FlowTimeoutError

POLL_SLICE = 0.1
"""Seconds between checks of the stop flag while the socket is idle (cancellation latency)."""


class SocketBody:
    """``remaining`` body bytes on a duplicated socket, after the ``prefix`` already read.

    Example:
        ```python
        body = response.socket_body()  # None when the fast path does not apply
        got, error = body.readinto(memoryview(buffer), threading.Event())
        ```
    """

    def __init__(
        self, fd: int, prefix: bytes, remaining: int, *, timeout: float | None, label: str
    ) -> None:
        self.prefix = prefix
        self.remaining = remaining
        self._timeout = timeout
        self._label = label
        self._sock = socket.socket(fileno=fd)  # non-blocking, like the original it shares
        self._poll = select.poll() if hasattr(select, "poll") else None
        if self._poll is not None:
            self._poll.register(self._sock, select.POLLIN)

    def readinto(self, view: memoryview, stop: threading.Event) -> tuple[int, Exception | None]:
        """Fill ``view`` (worker thread); ``(bytes read, error)``. Fewer bytes means EOF or stop.

        An error after some bytes arrived is returned with them, so the caller can keep
        what it has before it raises (the engine resumes from the exact byte).
        """
        want = min(len(view), self.remaining)
        got = 0
        idle_since = time.monotonic()
        while got < want and not stop.is_set():
            if not self._readable():
                if self._timeout is not None and time.monotonic() - idle_since > self._timeout:
                    timed_out = FlowTimeoutError(f"read timeout while downloading {self._label}")
                    return self._took(got), timed_out
                continue
            try:
                count = self._sock.recv_into(view[got:want])
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                error = FlowConnectionError(
                    f"connection lost while downloading {self._label}: {exc}"
                )
                return self._took(got), error
            if not count:
                break  # the server closed the connection: the caller sees a short body
            got += count
            idle_since = time.monotonic()
        return self._took(got), None

    def _took(self, count: int) -> int:
        self.remaining -= count
        return count

    def _readable(self) -> bool:
        if self._poll is None:  # pragma: no cover - Windows
            return bool(select.select([self._sock], [], [], POLL_SLICE)[0])
        return bool(self._poll.poll(int(POLL_SLICE * 1000)))

    def close(self) -> None:
        """Close the duplicate descriptor; the connection itself is httpx's to close."""
        with contextlib.suppress(OSError):
            self._sock.close()  # closes this descriptor only (no shutdown of the connection)
