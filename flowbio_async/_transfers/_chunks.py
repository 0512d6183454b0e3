"""Adaptive chunk sizing for uploads (issue #3).

Offsets on the wire are byte offsets (docs/protocol.md §3.2), so every chunk may have its own size.
Start at ``config.chunk_size``; double while a chunk goes through faster than ``target``
seconds (big chunks amortise the per-request round trip, which is what makes the official
1 MB-at-a-time client slow on a high-latency link); halve on 413 or a timeout. The size
never exceeds ``maximum`` nor goes below ``minimum``.
"""

from __future__ import annotations

from dataclasses import dataclass

KiB = 1024

MIN_CHUNK_SIZE = 64 * KiB


@dataclass(slots=True)
class ChunkSizer:
    """The current chunk size and the rules that move it.

    Example:
        ```python
        sizer = ChunkSizer(initial=1_000_000, maximum=16 * 1024 * 1024)
        sizer.record_success(sizer.size, elapsed=0.05)  # fast: the next chunk doubles
        ```
    """

    initial: int
    maximum: int
    target: float = 2.0
    """A chunk that takes less than this many seconds lets the next one grow."""
    minimum: int = MIN_CHUNK_SIZE
    size: int = 0
    ceiling: int = 0
    """Largest size still allowed; lowered for good after a 413."""

    def __post_init__(self) -> None:
        if self.initial <= 0:
            raise ValueError(f"chunk size must be positive, got {self.initial}")
        if self.initial > self.maximum:
            raise ValueError(f"chunk size {self.initial} exceeds the maximum {self.maximum}")
        self.minimum = min(self.minimum, self.initial)
        self.size = self.initial
        self.ceiling = self.maximum

    def record_success(self, sent: int, elapsed: float) -> None:
        """Double the size after a chunk that went through quickly.

        The read-ahead chunk was sized before the previous answer came, so a chunk one step
        smaller than ``size`` still counts as full-sized; a short last chunk does not.
        """
        if elapsed < self.target and sent * 2 >= self.size:
            self.size = min(self.size * 2, self.ceiling)

    def span(self, remaining: int, limit: int | None = None) -> int:
        """How many of the ``remaining`` bytes the next chunk carries.

        A tail of at most a quarter chunk rides along with the chunk before it (never past
        ``ceiling``): a 2 MiB file at 1 MB chunks is two requests, not three. Per-request
        overhead dominates small files, so this matters most for many small uploads.
        ``limit`` caps the chunk, stretched tail included (pipelined chunks, #13).
        """
        size = self.size if limit is None else min(self.size, limit)
        stretched = min(self.ceiling, size + size // 4)
        if limit is not None:
            stretched = min(stretched, max(size, limit))
        return remaining if remaining <= stretched else min(size, remaining)

    def fits(self, length: int) -> bool:
        """Whether a chunk read earlier is still acceptable after the size changed."""
        return length <= min(self.ceiling, self.size + self.size // 4)

    def shrink(self, *, too_large: bool = False, sent: int = 0) -> bool:
        """Halve the size; ``False`` when it is already at the minimum.

        ``too_large`` (a 413) also caps every later chunk: the server's limit does not move.
        A refused chunk of ``sent`` bytes larger than ``size`` carried a stretched tail
        (see ``span``): dropping the tail comes first, so even a chunk at the minimum size
        can still be resent.
        """
        if too_large and sent > self.size:
            self.ceiling = self.size
            return True
        if self.size <= self.minimum:
            return False
        self.size = max(self.minimum, self.size // 2)
        if too_large:
            self.ceiling = self.size
        return True
