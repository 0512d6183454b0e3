"""``run_pipelined``: metadata for upcoming ids is fetched while earlier transfers run (#16).

No sockets: the steps are coroutines that wait on events, so every verdict is about order,
never about speed (``fail_after`` only guards against a hang).
"""

from __future__ import annotations

import anyio
import pytest

from flowbio_async._transfers._many import run_pipelined

pytestmark = pytest.mark.anyio


async def test_preparing_runs_ahead_of_the_operations() -> None:
    second_prepared = anyio.Event()

    async def prepare(item: int) -> str:
        if item == 1:
            second_prepared.set()
        return f"meta-{item}"

    async def operation(item: int, meta: str) -> str:
        if item == 0:
            # Without look-ahead, item 1 would only be prepared after this returns: a hang.
            await second_prepared.wait()
        return meta.upper()

    with anyio.fail_after(10):
        results = await run_pipelined(range(4), prepare, operation, concurrency=1)
    assert [r.value for r in results] == ["META-0", "META-1", "META-2", "META-3"]


async def test_results_and_in_order_decisions_follow_the_input_order() -> None:
    gates = {item: anyio.Event() for item in range(5)}
    seen: list[int] = []

    async def prepare(item: int) -> int:
        if item == 0:
            for later in range(1, 5):
                await gates[later].wait()  # item 0 finishes planning last
        else:
            gates[item].set()
        return item * 10

    def in_order(item: int, value: int) -> int:
        seen.append(item)
        return value + 1

    async def operation(item: int, value: int) -> int:
        return value

    with anyio.fail_after(10):
        results = await run_pipelined(
            list(range(5)), prepare, operation, concurrency=4, in_order=in_order
        )
    assert seen == [0, 1, 2, 3, 4]
    assert [(r.item, r.value) for r in results] == [(i, i * 10 + 1) for i in range(5)]


async def test_failures_are_per_item_reported_and_fail_fast_raises_the_first() -> None:
    heard: list[tuple[int, str | None, str]] = []

    async def prepare(item: int) -> str:
        if item == 1:
            raise LookupError("no such id")
        return str(item)

    async def operation(item: int, value: str) -> str:
        if item == 2:
            raise ValueError("transfer failed")
        return value

    async def on_error(item: int, value: str | None, exc: Exception) -> None:
        heard.append((item, value, type(exc).__name__))

    with anyio.fail_after(10):
        results = await run_pipelined(
            [0, 1, 2, 3], prepare, operation, concurrency=2, on_error=on_error
        )
    assert [r.ok for r in results] == [True, False, False, True]
    assert sorted(heard) == [(1, None, "LookupError"), (2, "2", "ValueError")]
    with anyio.fail_after(10), pytest.raises(LookupError):
        await run_pipelined([0, 1, 2, 3], prepare, operation, concurrency=2, fail_fast=True)


async def test_nothing_to_do_is_an_empty_report() -> None:
    async def never(item: object, value: object = None) -> object:
        raise AssertionError("not called")

    assert await run_pipelined([], never, never, concurrency=3) == []
