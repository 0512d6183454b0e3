"""Run one async operation over many items: bounded, per-item results (issue #3).

Shared by uploads and downloads. A fixed pool of worker tasks in one anyio task group pulls
items in order, so a million items never means a million tasks. The client-wide
``CapacityLimiter`` is acquired by the per-item operations themselves (an upload holds it for
the whole file), which keeps every transfer of the client under one cap whether it was started
here or by the caller's own task group.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio
import anyio.abc

from flowbio_async._errors import ConfigurationError, NotStartedError
from flowbio_async._tasks import first_error

K = TypeVar("K")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ItemResult(Generic[K, T]):
    """The outcome of one item of a batch: a value or the exception that stopped it.

    Example:
        ```python
        results = await client.data.upload_many(["a.fq", "b.fq"])
        for result in results:
            print(result.item, result.value if result.ok else result.error)
        ```
    """

    item: K
    value: T | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        """``True`` when the item succeeded."""
        return self.error is None

    def unwrap(self) -> T:
        """Return the value, or raise the item's error."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


def call_concurrency(requested: int | None, client_limit: int) -> int:
    """Workers for one batch call: its ``max_concurrency``, never above the client-wide limit.

    Example:
        ```python
        call_concurrency(4, 16)     # 4
        call_concurrency(None, 16)  # 16: the client's config.max_concurrency
        ```
    """
    if requested is None:
        return client_limit
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
        raise ConfigurationError(
            f"max_concurrency must be a whole number of 1 or more, not {requested!r}"
        )
    # Each transfer also holds the client's limiter, so a larger value could not run more.
    return min(requested, client_limit)


async def run_many(
    items: Iterable[K],
    operation: Callable[[K], Awaitable[T]],
    *,
    concurrency: int,
    fail_fast: bool = False,
    stop_on_error: bool = False,
) -> list[ItemResult[K, T]]:
    """Apply ``operation`` to every item with at most ``concurrency`` running at once.

    Results come back in input order. An ``Exception`` raised for one item is recorded in
    its result and the others carry on; with ``fail_fast=True`` the first one cancels the
    rest and is raised. With ``stop_on_error=True`` no item starts after the first failure,
    the ones already running finish (never cut halfway), and each item never started gets a
    :class:`NotStartedError`. Cancellation (Ctrl-C, an outer deadline) always propagates.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    if fail_fast and stop_on_error:
        raise ConfigurationError("pass fail_fast=True or stop_on_error=True, not both")
    pending = list(items)
    results: list[ItemResult[K, T] | None] = [None] * len(pending)
    next_index = 0
    stopped = False

    async def worker() -> None:
        nonlocal next_index, stopped
        while next_index < len(pending) and not stopped:
            index = next_index
            next_index += 1
            item = pending[index]
            try:
                value = await operation(item)
            except Exception as exc:
                if fail_fast:
                    raise
                results[index] = ItemResult(item, error=exc)
                stopped = stop_on_error
            else:
                results[index] = ItemResult(item, value=value)

    try:
        async with anyio.create_task_group() as tg:
            for _ in range(min(concurrency, len(pending))):
                tg.start_soon(worker)
    except ExceptionGroup as group:
        raise first_error(group) from None
    return [
        ItemResult(item, error=_not_started()) if result is None else result
        for item, result in zip(pending, results, strict=True)
    ]


def _not_started() -> NotStartedError:
    return NotStartedError("not started: an earlier item failed and stop_on_error=True was passed")
