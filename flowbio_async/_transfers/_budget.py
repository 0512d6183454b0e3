"""A client-wide budget of bytes held in memory by uploads (``ClientConfig.upload_memory``).

Each upload keeps a chunk on the wire and reads the next one ahead; sixteen of them at once
could hold ``2 × max_chunk_size × 16`` bytes. Every chunk read takes its size from one
shared budget first and gives it back once the chunk is acknowledged or dropped, so the
total stays under the bound whatever the number of files. Waiters are served in order (a
large chunk is not starved by small ones), and a request larger than the whole budget waits
for all of it, so one oversized chunk can always go alone.

No holder ever waits for more budget before it can give back what it holds (a chunk on the
wire needs nothing; the read ahead is the only thing that waits, and a pipeline takes its
connections' shares only if they are free at once), so the budget cannot deadlock.

Example:
    ```python
    budget = ByteBudget(64 * MiB)
    held = await budget.acquire(len_of_next_chunk)
    try:
        ...  # read the chunk and send it
    finally:
        budget.release(held)
    ```
"""

from __future__ import annotations

from collections import deque

import anyio


class ByteBudget:
    """A first-come, first-served semaphore counted in bytes."""

    def __init__(self, total: int) -> None:
        if total < 1:
            raise ValueError(f"a byte budget needs at least 1 byte, not {total}")
        self.total = total
        self.free = total
        #: The most bytes held at once so far (what the bound is checked against).
        self.peak = 0
        self._waiting: deque[tuple[int, anyio.Event]] = deque()

    async def acquire(self, amount: int) -> int:
        """Wait until ``amount`` bytes (at most the whole budget) are free and take them.

        Returns what was taken: the amount to hand back to :meth:`release`.
        """
        amount = max(0, min(amount, self.total))
        if not self._waiting and amount <= self.free:
            self._take(amount)
            return amount
        granted = anyio.Event()
        entry = (amount, granted)
        self._waiting.append(entry)
        try:
            await granted.wait()
        except BaseException:
            if granted.is_set():  # granted just as the wait was cancelled: give it back
                self.release(amount)
            else:
                self._waiting.remove(entry)
                self._grant()  # the next in line may fit now that this one left
            raise
        return amount

    def take_nowait(self, amount: int) -> bool:
        """Take ``amount`` bytes if they are free now and nobody waits before; else ``False``."""
        amount = max(0, min(amount, self.total))
        if self._waiting or amount > self.free:
            return False
        self._take(amount)
        return True

    def release(self, amount: int) -> None:
        """Give back ``amount`` bytes taken by :meth:`acquire`."""
        self.free += amount
        self._grant()

    def _take(self, amount: int) -> None:
        self.free -= amount
        self.peak = max(self.peak, self.total - self.free)

    def _grant(self) -> None:
        while self._waiting and self._waiting[0][0] <= self.free:
            amount, granted = self._waiting.popleft()
            self._take(amount)
            granted.set()
