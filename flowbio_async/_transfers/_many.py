"""Run one async operation over many items: bounded, per-item results (issue #3).

Shared by uploads and downloads. A fixed pool of worker tasks in one anyio task group pulls
items in order, so a million items never means a million tasks. The client-wide
``CapacityLimiter`` is acquired by the per-item operations themselves (an upload holds it for
the whole file), which keeps every transfer of the client under one cap whether it was started
here or by the caller's own task group.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio
import anyio.abc

K = TypeVar("K")
T = TypeVar("T")
P = TypeVar("P")


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


async def run_many(
    items: Iterable[K],
    operation: Callable[[K], Awaitable[T]],
    *,
    concurrency: int,
    fail_fast: bool = False,
) -> list[ItemResult[K, T]]:
    """Apply ``operation`` to every item with at most ``concurrency`` running at once.

    Results come back in input order. An ``Exception`` raised for one item is recorded in
    its result and the others carry on; with ``fail_fast=True`` the first one cancels the
    rest and is raised. Cancellation (Ctrl-C, an outer deadline) always propagates.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    pending = list(items)
    results: list[ItemResult[K, T] | None] = [None] * len(pending)
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < len(pending):
            index = next_index
            next_index += 1
            item = pending[index]
            try:
                value = await operation(item)
            except Exception as exc:
                if fail_fast:
                    raise
                results[index] = ItemResult(item, error=exc)
            else:
                results[index] = ItemResult(item, value=value)

    try:
        async with anyio.create_task_group() as tg:
            for _ in range(min(concurrency, len(pending))):
                tg.start_soon(worker)
    except ExceptionGroup as group:
        raise _first_error(group) from None
    return [result for result in results if result is not None]


def _first_error(group: ExceptionGroup[Exception]) -> Exception:
    """fail_fast: surface the first item error itself, not the group wrapper."""
    first: Exception = group.exceptions[0]
    while isinstance(first, ExceptionGroup):
        first = first.exceptions[0]
    return first


async def run_pipelined(
    items: Sequence[K],
    prepare: Callable[[K], Awaitable[P]],
    operation: Callable[[K, P], Awaitable[T]],
    *,
    concurrency: int,
    fail_fast: bool = False,
    in_order: Callable[[K, P], P] | None = None,
    on_error: Callable[[K, P | None, Exception], Awaitable[None]] | None = None,
) -> list[ItemResult[K, T]]:
    """Like :func:`run_many` for work in two steps, the first overlapped with the second.

    ``prepare`` (a metadata ``GET`` per id, #16) runs up to ``2 × concurrency`` items ahead
    of ``operation`` (the transfer), so an operation never waits for a round trip that could
    have happened while earlier items were transferring. ``in_order`` sees every prepared
    value in input order before its operation starts (a deterministic place for decisions
    that depend on earlier items); ``on_error`` hears about every failed item. Results come
    back in input order; with ``fail_fast`` the first failure cancels the rest and is raised.

    Example:
        ```python
        results = await run_pipelined(ids, client.data.get, download, concurrency=16)
        ```
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    pending = list(items)
    count = len(pending)
    results: list[ItemResult[K, T] | None] = [None] * count
    prepared: dict[int, P | Exception] = {}
    ready = [anyio.Event() for _ in range(count)]
    ahead = anyio.Semaphore(2 * concurrency)
    next_index = 0

    async def fail(index: int, value: P | None, exc: Exception) -> None:
        if on_error is not None:
            await on_error(pending[index], value, exc)
        if fail_fast:
            raise exc
        results[index] = ItemResult(pending[index], error=exc)

    async def preparer() -> None:
        nonlocal next_index
        while next_index < count:
            index = next_index
            next_index += 1
            # Slots are taken in index order (FIFO), so the lowest unfinished index always
            # holds one and the dispatcher below can never starve.
            await ahead.acquire()
            try:
                prepared[index] = await prepare(pending[index])
            except Exception as exc:
                prepared[index] = exc
            ready[index].set()

    async def dispatcher(send: anyio.abc.ObjectSendStream[tuple[int, P]]) -> None:
        async with send:
            for index in range(count):
                await ready[index].wait()
                ahead.release()
                value = prepared.pop(index)
                if isinstance(value, Exception):
                    await fail(index, None, value)
                    continue
                if in_order is not None:
                    value = in_order(pending[index], value)
                await send.send((index, value))

    async def worker(receive: anyio.abc.ObjectReceiveStream[tuple[int, P]]) -> None:
        async with receive:
            async for index, value in receive:
                try:
                    results[index] = ItemResult(
                        pending[index], value=await operation(pending[index], value)
                    )
                except Exception as exc:
                    await fail(index, value, exc)

    send, receive = anyio.create_memory_object_stream[tuple[int, P]](concurrency)
    try:
        async with anyio.create_task_group() as tg:
            workers = min(concurrency, count)
            for _ in range(workers):
                tg.start_soon(preparer)
            tg.start_soon(dispatcher, send)
            for _ in range(workers):
                tg.start_soon(worker, receive.clone())
            receive.close()
    except ExceptionGroup as group:
        raise _first_error(group) from None
    return [result for result in results if result is not None]
