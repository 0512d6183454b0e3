"""One upload chunk as a ``multipart/form-data`` body, written in few, large pieces (#3).

httpx's own encoder writes every form part as separate small socket writes (about twenty per
chunk); on loopback and fast links each write costs a system call and a wake-up of the
receiver, which made per-request overhead dominate uploads of many small files. Here the
text fields and the blob's part header go out as one piece, the blob in 1 MiB pieces and the
closing boundary last: one copy of the chunk's bytes at most, a handful of writes.

The body can be iterated again (a 401 refresh re-sends the same request) and
:meth:`ChunkBody.close` drops the chunk: httpx keeps request objects in reference cycles, so a
body that held its bytes until the garbage collector ran kept whole chunks alive (#3).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path

import anyio

_PIECE = 1024 * 1024
_SMALL = 64 * 1024
HELD = 512
"""Bytes of a held chunk's data kept back until its predecessor is acknowledged (#13)."""
# The HTML5 form encoding of quotes, backslashes and control characters in names (what
# httpx and browsers send), so the server parses our parts exactly like theirs.
_ESCAPES = {'"': "%22", "\\": "\\\\"} | {chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}
_ESCAPE_RE = re.compile("|".join(re.escape(c) for c in _ESCAPES))


def _quoted(name: str, value: str) -> str:
    return f'{name}="{_ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(0)], value)}"'


class _FormBody:
    """Form fields and one file part's header; subclasses say where the file bytes come from."""

    def __init__(
        self,
        fields: Mapping[str, str | Sequence[str]],
        file_field: str,
        filename: str,
        size: int,
        content_type: str,
        *,
        fields_last: bool = False,
    ) -> None:
        self.boundary = secrets.token_hex(16)
        self.fields = fields
        """The form fields (without the file part), as given."""
        dash = f"--{self.boundary}\r\n"
        parts: list[str] = []
        for name, value in fields.items():
            # A sequence becomes repeated parts of the same name; an empty one sends nothing.
            for item in [value] if isinstance(value, str) else value:
                parts.append(
                    f"{dash}Content-Disposition: form-data; {_quoted('name', name)}\r\n\r\n"
                    f"{item}\r\n"
                )
        file_header = (
            f"{dash}Content-Disposition: form-data; {_quoted('name', file_field)}; "
            f"{_quoted('filename', filename)}\r\nContent-Type: {content_type}\r\n\r\n"
        )
        closing = f"--{self.boundary}--\r\n"
        if fields_last:
            # The file part first, the fields after it: a server cannot know where the bytes
            # go (offset, upload id) before the body's last bytes are in (#13, pipelining).
            self._head = file_header.encode()
            self._tail = "".join(["\r\n", *parts, closing]).encode()
        else:
            self._head = "".join([*parts, file_header]).encode()
            self._tail = f"\r\n{closing}".encode()
        self._length = len(self._head) + size + len(self._tail)

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header value, with the boundary."""
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def headers(self) -> dict[str, str]:
        """``Content-Type`` and ``Content-Length`` for this body."""
        return {"Content-Type": self.content_type, "Content-Length": str(self._length)}

    def __len__(self) -> int:
        return self._length


class ChunkBody(_FormBody):
    """The multipart body of one chunk held in memory: form fields, then the ``blob`` part.

    Example:
        ```python
        body = ChunkBody({"filename": "a.fq", "is_last": "true"}, "blob", "a.fq", data)
        await http.request("POST", "upload", body=body, headers=body.headers)
        ```
    """

    def __init__(
        self,
        fields: Mapping[str, str | Sequence[str]],
        file_field: str,
        filename: str,
        data: bytes,
        content_type: str = "application/octet-stream",
    ) -> None:
        super().__init__(fields, file_field, filename, len(data), content_type)
        self._data = data

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._pieces()

    async def _pieces(self) -> AsyncIterator[bytes]:
        data = self._data
        if len(data) <= _SMALL:
            yield self._head + data + self._tail  # one write for a small chunk
            return
        yield self._head
        view = memoryview(data)
        for start in range(0, len(data), _PIECE):
            yield bytes(view[start : start + _PIECE])
        yield self._tail

    def close(self) -> None:
        """Forget the chunk's bytes (the body cannot be sent again afterwards)."""
        self._data = b""


Release = Callable[[float], Awaitable[None]]
"""Awaited before a held body's last bytes go out, with the time (``anyio.current_time()``)
the piece before them was handed over; returns to send them, raises to abandon the request."""


class HeldTailBody(_FormBody):
    """One chunk streamed from an open file, the file part first, its last bytes held back.

    The fields (offset, upload id, ``is_last``) come after the blob, and the last
    ``2 × HELD`` data bytes, the fields and the closing boundary go out only once
    ``release`` returns: until then no server can act on the chunk, so a chunk can be on the
    wire while the one before it is still being answered (docs/uploading.md, #13). The HTTP
    layer reads one piece ahead, so the piece before the held bytes is tiny too. Each
    iteration reads the file again through its own duplicate of ``fd`` (``os.pread``, in a
    worker thread, 1 MiB at a time): a resend after a 401 works, and a body still being
    iterated after its request ended never reads through a descriptor closed under it.

    Example:
        ```python
        body = HeldTailBody(fields, "blob", "a.fq", fd, 4 << 20, 4 << 20, release=gate.wait)
        await http.request("POST", "upload", body=body, headers=body.headers, retry=False)
        ```
    """

    def __init__(
        self,
        fields: Mapping[str, str | Sequence[str]],
        file_field: str,
        filename: str,
        fd: int,
        offset: int,
        length: int,
        release: Release,
        content_type: str = "application/octet-stream",
    ) -> None:
        super().__init__(fields, file_field, filename, length, content_type, fields_last=True)
        self._fd = fd
        self._offset = offset
        self._size = length
        self._release = release

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._pieces()

    async def _pieces(self) -> AsyncIterator[bytes]:
        size, offset = self._size, self._offset
        held_from = max(0, size - 2 * HELD)  # the tiny last piece before the gate, then the rest
        fd = os.dup(self._fd)
        try:
            handed = anyio.current_time()
            yield self._head
            position = 0
            while position < held_from:
                length = min(_PIECE, held_from - position)
                piece = await anyio.to_thread.run_sync(read_exact, fd, length, offset + position)
                handed = anyio.current_time()
                yield piece
                position += length
            last = b""
            if size > held_from:
                last = await anyio.to_thread.run_sync(
                    read_exact, fd, size - held_from, offset + held_from
                )
            split = max(0, len(last) - HELD)
            if split:
                handed = anyio.current_time()
                yield last[:split]
            await self._release(handed)
            yield last[split:] + self._tail
        finally:
            os.close(fd)


def read_exact(fd: int, length: int, offset: int) -> bytes:
    """``length`` bytes of ``fd`` at ``offset`` (``os.pread``, looping over short reads)."""
    data = os.pread(fd, length, offset)
    if len(data) == length:
        return data
    # pread may return short on some filesystems; loop (rare, so the concatenation is fine).
    parts = [data]
    got = len(data)
    while got < length:
        more = os.pread(fd, length - got, offset + got)
        if not more:
            raise OSError(f"file shrank while uploading (expected {length} bytes at {offset})")
        parts.append(more)
        got += len(more)
    return b"".join(parts)


class FileBody(_FormBody):
    """A multipart body whose file part streams from disk in 1 MiB reads (never whole).

    Example:
        ```python
        body = FileBody({"workspace_id": "ws"}, "file", "a.vcf", Path("a.vcf"), size)
        ```
    """

    def __init__(
        self,
        fields: Mapping[str, str | Sequence[str]],
        file_field: str,
        filename: str,
        path: Path,
        size: int,
        content_type: str = "application/octet-stream",
    ) -> None:
        super().__init__(fields, file_field, filename, size, content_type)
        self._path = path
        self._size = size

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._pieces()  # a fresh read of the file on every iteration (retries)

    async def _pieces(self) -> AsyncIterator[bytes]:
        yield self._head
        async for block in FileBlocks(self._path, self._size):
            yield block
        yield self._tail


class FileBlocks:
    """A file's bytes as 1 MiB blocks, read again from the start on every iteration.

    Used as a raw request body (a presigned ``PUT``) that the HTTP layer may replay.

    Example:
        ```python
        await http.request("PUT", url, body=FileBlocks(path, size), authenticated=False)
        ```
    """

    def __init__(self, path: Path, size: int) -> None:
        self._path = path
        self._size = size

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._blocks()

    async def _blocks(self) -> AsyncIterator[bytes]:
        sent = 0
        async with await anyio.open_file(self._path, "rb") as handle:
            while sent < self._size:
                block = await handle.read(min(_PIECE, self._size - sent))
                if not block:
                    raise OSError(f"{self._path.name!r} shrank while uploading")
                sent += len(block)
                yield block
