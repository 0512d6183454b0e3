"""Log tailing and poll timing for watching executions (#11; no I/O).

``GET /executions/<id>?log=<offset>`` answers the log from that byte offset (flow-skills
``endpoints/executions.md``). :class:`LogCursor` keeps the offset and hands out only text it
has not handed out before, even from a server that ignores ``log=`` and answers the whole log
each time. Which kind of server it talks to is asked once, without guessing, as soon as the
offset is past 0: a request far past the end of the log (:data:`PROBE_OFFSET`) gets ``""``
from a server that honours offsets and the whole log from one that does not
(:meth:`LogCursor.probed`). Comparing text instead would be ambiguous: new text may begin
with the same bytes as the old. The cursor also keeps the last few KiB, for the tail an
:class:`~flowbio_async.ExecutionFailedError` shows.
"""

from __future__ import annotations

import random

TAIL_BYTES = 8 * 1024
TAIL_LINES = 40
#: A log offset no real log reaches: the probe for servers that ignore ``log=``.
PROBE_OFFSET = 1 << 40


class LogCursor:
    """Where the next log request starts, and what the log ended with so far.

    Example:
        ```python
        cursor = LogCursor()
        if cursor.needs_probe:
            cursor.probed(text_answered_for(cursor.offset + PROBE_OFFSET))
        new = cursor.feed(answer_text, asked=cursor.offset)
        ```
    """

    def __init__(self, offset: int = 0) -> None:
        self.offset = max(0, offset)
        #: None until probed; True when the server answers the whole log whatever the offset.
        self.whole_log: bool | None = None
        self._tail = b""

    @property
    def needs_probe(self) -> bool:
        """True while it is unknown whether the server honours offsets and it matters."""
        return self.whole_log is None and self.offset > 0

    def probed(self, answer: str) -> None:
        """Record the answer to a request at :data:`PROBE_OFFSET` past the end."""
        self.whole_log = bool(answer)

    def feed(self, text: str, *, asked: int) -> str:
        """New text from an answer to a request made at byte offset ``asked``."""
        raw = text.encode("utf-8")
        if self.whole_log:
            raw = raw[asked:]  # the server sent the log from its start: skip what was seen
        if not raw:
            return ""
        self.offset = asked + len(raw)
        self._tail = (self._tail + raw)[-TAIL_BYTES:]
        return raw.decode("utf-8", "replace")

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
