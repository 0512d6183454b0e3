"""HTTP byte ranges: the ``Range`` header we send and the ``Content-Range`` we get back.

Only single ranges are used (docs/protocol.md §8 row 22: the server supports ``bytes=N-``; the local
server also answers ``bytes=N-M``). Parsing is strict so that a 206 whose range does not
start where we asked is detected instead of corrupting the part file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ContentRange:
    """A parsed ``Content-Range``; ``start``/``end`` are ``None`` for ``bytes */N`` (416)."""

    start: int | None
    end: int | None
    """Inclusive last byte, as on the wire."""
    total: int | None


def range_header(start: int, end: int | None = None) -> str:
    """The ``Range`` value for ``[start, end)``; open-ended when ``end`` is ``None``.

    Example:
        ```python
        range_header(100)        # "bytes=100-"
        range_header(0, 1024)    # "bytes=0-1023"
        ```
    """
    if start < 0 or (end is not None and end <= start):
        raise ValueError(f"bad byte range [{start}, {end})")
    return f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}"


def parse_content_range(value: str | None) -> ContentRange | None:
    """Parse ``bytes a-b/N``, ``bytes a-b/*`` or ``bytes */N``; ``None`` if absent or malformed.

    Example:
        ```python
        parse_content_range("bytes 0-99/1000")   # ContentRange(0, 99, 1000)
        parse_content_range("bytes */1000")      # ContentRange(None, None, 1000)
        ```
    """
    if not value:
        return None
    match = _CONTENT_RANGE.match(value)
    if match is None:
        return None
    first, last, total = match.groups()
    size = None if total == "*" else int(total)
    if first is None or last is None:
        return ContentRange(None, None, size) if size is not None else None
    start, end = int(first), int(last)
    if end < start or (size is not None and end >= size):
        return None
    return ContentRange(start, end, size)
