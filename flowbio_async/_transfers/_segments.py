"""How many streams one download runs, and where a new stream's range starts (#13; no I/O).

A large download starts as one stream. After a measurement window its rate decides: fast
enough (``segment_below_rate``) and it goes on alone; slower, and more streams join, each
taking the far part of the largest range still to come. The count grows by :data:`GROWTH`
at each step while the aggregate rate still grows (a step must earn at least :data:`GAIN`
of the linear gain: with a per-connection cap it does, on a saturated link it does not) and
stops when it does not, at the ceiling (``segments_per_file``), or when no range is worth
splitting: a new stream pays a connection setup and a round trip before its first byte, so
its range must outlast that (:func:`min_split`). Each step costs a setup and a window, so
steps are few: 1 → 4 → 16 streams.

Example:
    ```python
    ramp = Ramp(ceiling=16, below_rate=64 * 2**20)
    ramp.next_step(10e6)   # 3: three more streams (10 MB/s is slow)
    ramp.opened(3)
    ramp.next_step(40e6)   # 12: the aggregate grew four times, go on to the ceiling
    ```
"""

from __future__ import annotations

from dataclasses import dataclass

GROWTH = 4
"""Streams after a step, per stream before it (up to the ceiling)."""
GAIN = 0.5
"""Share of the linear gain a step must earn to count as growth (1 → 4 streams: ≥ 2.5×)."""
MIN_WINDOW, MAX_WINDOW = 0.05, 0.5
"""Bounds of one measurement window, in seconds (a round trip in between)."""
SETUP_ROUND_TRIPS = 2
"""What a new stream pays before its first byte, in round trips (a connection setup and the
request): its range must take at least this long at one stream's rate."""
ALIGN = 64 * 1024
"""Split points fall on multiples of this (tidy ranges, whole pages for the writer)."""


def window_for(round_trip: float) -> float:
    """Seconds to measure a rate over: a round trip, within the bounds.

    Example:
        ```python
        window_for(0.08)    # 0.08
        window_for(0.001)   # 0.05 (MIN_WINDOW)
        ```
    """
    return min(MAX_WINDOW, max(MIN_WINDOW, round_trip))


def min_split(floor: int, stream_rate: float, round_trip: float) -> int:
    """Smallest range worth a new stream: ``floor`` bytes, or what one stream receives in
    :data:`SETUP_ROUND_TRIPS` round trips if that is more.

    Example:
        ```python
        min_split(1 << 20, 10e6, 0.1)    # 2_000_000
        ```
    """
    return max(floor, int(stream_rate * round_trip * SETUP_ROUND_TRIPS))


def split_point(seen: int, end: int, smallest: int, head_start: int = 0) -> int | None:
    """Where a new stream takes over ``[seen, end)``, or ``None`` when either part would be
    smaller than ``smallest``.

    The running stream keeps ``head_start`` bytes more than half (what it receives while
    the new one sets up), so both finish together; the point is aligned to :data:`ALIGN`.

    Example:
        ```python
        split_point(0, 64 << 20, 1 << 20)   # 33554432
        split_point(0, 1 << 20, 1 << 20)    # None
        ```
    """
    if end - seen < 2 * smallest:
        return None
    point = seen + (end - seen + head_start) // 2
    point -= point % ALIGN
    if point - seen < smallest or end - point < smallest:
        return None
    return point


@dataclass
class Ramp:
    """The stream count of one download, from its aggregate rate after each step."""

    ceiling: int
    below_rate: float | None
    streams: int = 1
    rate: float | None = None
    """The aggregate rate measured before the last step (``None`` until the first window)."""
    added: int = 0
    """Streams the last step added."""

    def next_step(self, rate: float) -> int:
        """How many streams to add, given the aggregate ``rate`` with ``streams`` running;
        0 means the count stays as it is from now on."""
        if self.rate is None:
            if self.below_rate is not None and rate >= self.below_rate:
                return 0  # one stream keeps up: it goes on alone
        elif self.added:
            before = self.streams - self.added
            if rate < self.rate * (1 + GAIN * self.added / before):
                return 0  # the aggregate stopped growing
        self.rate = rate
        return max(0, min(self.ceiling, GROWTH * self.streams) - self.streams)

    def opened(self, count: int) -> None:
        """``count`` streams were started (fewer than asked when no range was left to split
        or the client's connection budget was spent)."""
        self.streams += count
        self.added = count
