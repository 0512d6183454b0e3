"""The client-wide upload memory budget (``ClientConfig.upload_memory``).

Unit tests of :class:`ByteBudget` synchronise on the budget's own state (who is waiting,
what is free), never on sleeps; the integration tests upload through the local server and
read the server's own in-flight high-water mark.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sync_points import fault_applied
from upload_helpers import data_row, logged_in, md5, random_file

from flowbio_async._transfers._budget import ByteBudget
from flowbio_async.testing import FlowServer

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
BOUND = 10.0  # every wait below is bounded: a broken budget fails, it does not hang


async def _until(condition: Callable[[], object]) -> None:
    """Yield to other tasks until ``condition()`` holds (bounded by the caller)."""
    while not condition():
        await anyio.sleep(0)


async def test_takes_what_is_free_and_waits_for_the_rest() -> None:
    budget = ByteBudget(100)
    assert await budget.acquire(60) == 60
    got: list[int] = []

    async def take(amount: int) -> None:
        got.append(await budget.acquire(amount))

    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as tg:
            tg.start_soon(take, 70)
            await _until(lambda: budget._waiting)
            assert got == [] and budget.free == 40
            budget.release(60)
    assert got == [70] and budget.free == 30 and budget.peak == 70


async def test_waiters_are_served_in_order() -> None:
    budget = ByteBudget(100)
    held = await budget.acquire(90)
    order: list[str] = []

    async def take(name: str, amount: int) -> None:
        await budget.acquire(amount)
        order.append(name)

    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as tg:
            tg.start_soon(take, "large", 80)
            await _until(lambda: len(budget._waiting) == 1)
            # 5 bytes would fit now, but the large chunk asked first: no starving it.
            tg.start_soon(take, "small", 5)
            await _until(lambda: len(budget._waiting) == 2)
            assert order == []
            budget.release(held)
    assert order == ["large", "small"] and budget.free == 15


async def test_a_request_above_the_whole_budget_waits_for_all_of_it() -> None:
    budget = ByteBudget(100)
    first = await budget.acquire(1)
    done = anyio.Event()

    async def oversized() -> None:
        assert await budget.acquire(10_000) == 100  # capped: it can always go alone
        done.set()

    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as tg:
            tg.start_soon(oversized)
            await _until(lambda: budget._waiting)
            assert not done.is_set()
            budget.release(first)
            await done.wait()
    assert budget.free == 0


@pytest.mark.timing
async def test_a_cancelled_waiter_leaves_the_queue_and_lets_the_next_in() -> None:
    budget = ByteBudget(100)
    held = await budget.acquire(50)
    served = anyio.Event()

    async def small() -> None:
        await budget.acquire(40)
        served.set()

    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as tg:
            waiting = anyio.CancelScope()
            tg.start_soon(_cancellable, budget, 80, waiting)
            await _until(lambda: len(budget._waiting) == 1)
            tg.start_soon(small)  # 40 would fit, but it queues behind the 80
            await _until(lambda: len(budget._waiting) == 2)
            waiting.cancel()  # the 80-byte waiter gives up: the 40 behind it fits now
            await served.wait()
    assert budget.free == 10
    budget.release(held)
    budget.release(40)
    assert budget.free == budget.total


async def _cancellable(budget: ByteBudget, amount: int, scope: anyio.CancelScope) -> None:
    with scope:
        await budget.acquire(amount)
        budget.release(amount)


@pytest.mark.timing
async def test_a_grant_that_meets_a_cancellation_is_given_back() -> None:
    budget = ByteBudget(100)
    held = await budget.acquire(100)
    kept: list[int] = []

    async def waiter(scope: anyio.CancelScope) -> None:
        with scope:
            kept.append(await budget.acquire(30))

    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as tg:
            scope = anyio.CancelScope()
            tg.start_soon(waiter, scope)
            await _until(lambda: budget._waiting)
            budget.release(held)  # grants the waiter's 30 bytes ...
            scope.cancel()  # ... and cancels it before it runs again
    # Either the cancellation won (the grant went back) or the waiter got its bytes.
    assert budget.free == budget.total - sum(kept)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=150), min_size=1, max_size=30))
def test_never_more_than_the_budget_and_everything_comes_back(amounts: list[int]) -> None:
    async def main() -> ByteBudget:
        budget = ByteBudget(100)

        async def user(amount: int) -> None:
            taken = await budget.acquire(amount)
            assert budget.total - budget.free <= budget.total
            await anyio.sleep(0)
            budget.release(taken)

        with anyio.fail_after(BOUND):
            async with anyio.create_task_group() as tg:
                for amount in amounts:
                    tg.start_soon(user, amount)
        return budget

    budget = anyio.run(main)
    assert budget.free == budget.total
    assert 0 < budget.peak <= budget.total


@pytest.mark.parametrize("budget", [2 * MiB, 100_000], ids=["two-chunks", "below-one-chunk"])
async def test_many_uploads_stay_within_the_client_budget(tmp_path: Path, budget: int) -> None:
    # Whole chunks only, so every chunk on the wire holds a full 1 MiB share.
    paths = [random_file(tmp_path / f"budget_{i}.bin", 3 * MiB) for i in range(4)]
    settings = {"chunk_size": MiB, "max_chunk_size": MiB, "upload_memory": budget}
    # A server of its own: a shared one may still be finishing requests other tests left,
    # and those would count in its in-flight high-water mark.
    with FlowServer() as server:
        async with logged_in(server, tmp_path / "state", upload_streams=1, **settings) as client:
            with anyio.fail_after(60):
                results = await client.data.upload_many(paths, max_concurrency=4)
            memory = client._ctx.upload_memory
            assert memory is not None and memory.free == memory.total  # all given back
            assert 0 < memory.peak <= budget
        for path, result in zip(paths, results, strict=True):
            assert data_row(server, result.unwrap().id)["md5"] == md5(path)
        # A chunk on the wire holds its share of the budget: two 1 MiB chunks fit in 2 MiB,
        # and a budget below one chunk lets one go at a time, whatever the four files want.
        assert server.max_in_flight()["upload"] <= max(1, budget // MiB)


@pytest.mark.timing
async def test_cancelled_uploads_give_the_whole_budget_back(tmp_path: Path) -> None:
    paths = [random_file(tmp_path / f"cancel_budget_{i}.bin", 3 * MiB) for i in range(3)]
    settings = {"chunk_size": MiB, "max_chunk_size": MiB, "upload_streams": 1}
    # A server of its own: the stalled request outlives the cancelled call.
    with FlowServer() as server:
        # The second chunk request is held by the server: chunks are on the wire and read
        # ahead when the call is cancelled.
        stall = server.add_fault("stall", route="upload", nth=2, seconds=BOUND)
        async with logged_in(server, tmp_path / "state", **settings) as client:
            memory = client._ctx.upload_memory
            assert memory is not None
            with anyio.fail_after(BOUND):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(client.data.upload_many, paths)
                    while not fault_applied(server, stall):
                        await anyio.sleep(0.01)  # polls the server's own record: an event
                    assert memory.free < memory.total  # chunks are held right now
                    tg.cancel_scope.cancel()
            assert memory.free == memory.total
