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

_PIECE = 1024 * 1024
_SMALL = 64 * 1024
# The HTML5 form encoding of quotes, backslashes and control characters in names (what
# httpx and browsers send), so the server parses our parts exactly like theirs.
_ESCAPES = {'"': "%22", "\\": "\\\\"} | {chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}
_ESCAPE_RE = re.compile("|".join(re.escape(c) for c in _ESCAPES))


def _quoted(name: str, value: str) -> str:
    return f'{name}="{_ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(0)], value)}"'


class ChunkBody:
    """The multipart body of one chunk: form fields, then the ``blob`` file part.

    Example:
        ```python
        body = ChunkBody({"filename": "a.fq", "is_last": "true"}, "blob", "a.fq", data)
        headers = {"Content-Type": body.content_type, "Content-Length": str(len(body))}
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
        self._data = data
        self._length = len(self._head) + len(data) + len(self._tail)

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header value, with the boundary."""
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self._length

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
