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

import re
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import anyio

_PIECE = 1024 * 1024
_SMALL = 64 * 1024
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
    ) -> None:
        self.boundary = secrets.token_hex(16)
        dash = f"--{self.boundary}\r\n"
        parts: list[str] = []
        for name, value in fields.items():
            # A sequence becomes repeated parts of the same name; an empty one sends nothing.
            for item in [value] if isinstance(value, str) else value:
                parts.append(
                    f"{dash}Content-Disposition: form-data; {_quoted('name', name)}\r\n\r\n"
                    f"{item}\r\n"
                )
        parts.append(
            f"{dash}Content-Disposition: form-data; {_quoted('name', file_field)}; "
            f"{_quoted('filename', filename)}\r\nContent-Type: {content_type}\r\n\r\n"
        )
        self._head = "".join(parts).encode()
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
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
