"""Log tailing and poll timing for watching executions (#11; no I/O).

``GET /executions/<id>?log=<offset>`` answers the log from that byte offset (flow-skills
``endpoints/executions.md``). :class:`LogCursor` keeps the offset and hands out only text it
has not handed out before, even from a server that ignores ``log=`` and answers the whole log
each time: it keeps a running SHA-256 of every byte seen, and an answer whose first
``offset`` bytes hash to it is the old log again, so only the rest is new. It also keeps the
last few KiB, for the tail an :class:`~flowbio_async.ExecutionFailedError` shows.
"""

from __future__ import annotations

import hashlib
import random

TAIL_BYTES = 8 * 1024
TAIL_LINES = 40


class LogCursor:
    """Where the next log request starts, and what the log ended with so far.

    Example:
        ```python
        cursor = LogCursor()
        new = cursor.feed(answer_text, asked=cursor.offset)
        ```
    """

    def __init__(self, offset: int = 0) -> None:
        self.offset = max(0, offset)
        self._from_start = self.offset == 0  # only then does the digest cover the whole log
        self._digest = hashlib.sha256()
        self._tail = b""

    def feed(self, text: str, *, asked: int) -> str:
        """New text from an answer to a request made at byte offset ``asked``."""
        raw = text.encode("utf-8")
        if self._repeats_whole_log(raw, asked):
            raw = raw[asked:]  # the server sent the whole log again: skip what was seen
        if not raw:
            return ""
        self.offset += len(raw)
        self._digest.update(raw)
        self._tail = (self._tail + raw)[-TAIL_BYTES:]
        return raw.decode("utf-8", "replace")

    def _repeats_whole_log(self, raw: bytes, asked: int) -> bool:
        if asked <= 0 or not self._from_start or asked != self.offset or len(raw) < asked:
            return False
        return hashlib.sha256(raw[:asked]).digest() == self._digest.digest()

    def tail(self, lines: int = TAIL_LINES) -> str:
        """The last ``lines`` lines seen (from the last few KiB)."""
        text = self._tail.decode("utf-8", "replace")
        kept = text.splitlines(keepends=True)[-lines:]
        return "".join(kept)


def poll_delay(base: float, rng: random.Random | None = None) -> float:
    """``base`` seconds with ±25 % jitter, so many watchers do not poll in step."""
    draw = float((rng or random).uniform(0.75, 1.25))  # jitter, not cryptography
    return max(0.0, base * draw)


def next_interval(current: float, *, changed: bool, initial: float, maximum: float) -> float:
    """Back off ×1.5 while nothing changes (up to ``maximum``); any change resets it."""
    if changed:
        return initial
    return min(maximum, max(initial, current * 1.5))
