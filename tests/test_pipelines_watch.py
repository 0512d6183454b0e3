"""``client.executions.watch``/``wait``/``get_log`` against the local server (#11).

The server's clock is paused (``execution_speed=0``); a test moves a run on with
``step_execution`` and waits on the server's request counter (never on sleeps) until the
watcher has polled after each step, and a timeout is forced by a ``stall`` the server holds
far longer, so every verdict is independent of the machine's speed (the tests that race a
watcher against the clock are marked ``timing``: ``make stress`` repeats them under load).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from pipeline_helpers import FINISH, client_for, demo_sample

from flowbio_async import (
    AsyncClient,
    Execution,
    ExecutionCanceledError,
    ExecutionFailedError,
    ExecutionTimeoutError,
    ExecutionUpdate,
)
from flowbio_async.testing import FlowServer

POLL = 0.01


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    with FlowServer(execution_speed=0) as running:
        yield running


async def _start(client: AsyncClient, pipeline: str = "RNA-Seq") -> Execution:
    sample = await demo_sample(client)
    params = {"genome": "GRCh38"} if pipeline == "RNA-Seq" else {}
    version = await client.pipelines.find(pipeline)
    return await client.pipelines.run(version, samples=[sample], params=params)


def _polls(server: FlowServer) -> int:
    return server.counters().get("execution", 0)


async def _until_polled_after_step(server: FlowServer) -> None:
    """Wait (bounded) until the watcher has surely seen the current state.

    Requests are counted when they arrive and the watcher sends one only after the answer
    to the previous one, so three more arrivals mean the first two were answered after the
    step; one of them may be the one-off log probe (no status), the other is a full poll.
    """
    start = await anyio.to_thread.run_sync(_polls, server)
    with anyio.fail_after(30):
        while await anyio.to_thread.run_sync(_polls, server) < start + 3:
            await anyio.sleep(POLL)


async def _drive(server: FlowServer, execution_id: str, seconds: float, steps: int) -> None:
    """Step the run's clock ``steps`` times, letting the watcher see each state."""
    for _ in range(steps):
        await _until_polled_after_step(server)
        await anyio.to_thread.run_sync(server.step_execution, execution_id, seconds)
    await _until_polled_after_step(server)
    await anyio.to_thread.run_sync(server.step_execution, execution_id, FINISH)


async def _watch_all(client: AsyncClient, execution: Execution) -> list[ExecutionUpdate]:
    return [u async for u in client.executions.watch(execution, poll_interval=POLL)]


@pytest.mark.anyio
@pytest.mark.timing
async def test_watch_reports_statuses_steps_and_each_log_byte_once(
    server: FlowServer, tmp_path: Path
) -> None:
    async with client_for(server, tmp_path) as client:
        execution = await _start(client)
        updates: list[ExecutionUpdate] = []
        async with anyio.create_task_group() as group:
            group.start_soon(_drive, server, execution.id, 35.0, 10)
            updates = await _watch_all(client, execution)
        full = await client.executions.get(execution.id)

    statuses = [u.status for u in updates if u.kind == "status"]
    assert statuses == ["", "-", "OK"]
    assert [u.previous_status for u in updates if u.kind == "status"] == [None, "", "-"]
    assert updates[-1].is_final and updates[-1].execution.succeeded
    assert len(updates[-1].execution.outputs) == 8  # the final update is the full detail
    kinds = [u.kind for u in updates]
    running = next(i for i, u in enumerate(updates) if u.kind == "status" and u.status == "-")
    assert running < kinds.index("process") and running < kinds.index("log")  # start first

    log_texts = [u.text for u in updates if u.kind == "log"]
    assert "".join(log_texts) == full.log  # every byte once: no repeat, no gap
    assert len(log_texts) >= 5  # the log grew while it was watched

    steps: dict[str, list[str]] = {}
    for update in updates:
        if update.kind == "process" and update.process is not None:
            steps.setdefault(str(update.process.name), []).append(str(update.process.status))
    assert len(steps) == 6
    assert all(seen[-1] == "COMPLETED" for seen in steps.values())
    assert sum(1 for seen in steps.values() if seen[0] == "RUNNING") >= 3


@pytest.mark.anyio
@pytest.mark.timing
async def test_watch_never_repeats_text_when_the_server_ignores_offsets(
    server: FlowServer, tmp_path: Path
) -> None:
    server.set(execution_log_offsets=False)
    try:
        async with client_for(server, tmp_path) as client:
            execution = await _start(client)
            async with anyio.create_task_group() as group:
                group.start_soon(_drive, server, execution.id, 50.0, 6)
                updates = await _watch_all(client, execution)
    finally:
        server.set(execution_log_offsets=True)
    async with client_for(server, tmp_path) as client:
        full = await client.executions.get(execution.id)
    texts = [u.text for u in updates if u.kind == "log"]
    assert "".join(texts) == full.log and len(texts) >= 3


@pytest.mark.anyio
async def test_wait_returns_the_finished_execution(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        execution = await _start(client)
        server.step_execution(execution.id, FINISH)
        done = await client.executions.wait(execution.id, poll_interval=POLL, progress=True)
    assert done.status == "OK" and done.succeeded and not done.failed
    assert {d.filename for d in done.outputs} >= {"multiqc_report.html", "all.gene_counts.tsv"}
    assert all(d.download_url for d in done.outputs)


@pytest.mark.anyio
async def test_an_error_run_raises_with_status_stderr_and_log_tail(
    server: FlowServer, tmp_path: Path
) -> None:
    async with client_for(server, tmp_path) as client:
        execution = await _start(client, "Variant Calling")
        server.step_execution(execution.id, FINISH)
        with pytest.raises(ExecutionFailedError) as failed:
            await client.executions.wait(execution, poll_interval=POLL)
        error = failed.value
        assert error.status == "ERROR" and not error.execution.succeeded
        assert "java.lang.OutOfMemoryError" in error.stderr
        assert "Execution aborted" in error.log_tail
        assert [p.exit_code for p in error.failed_processes] == [137]
        assert "GATK4_HAPLOTYPECALLER" in str(error) and "ended with ERROR" in str(error)

        # Asked not to raise: returned, and still never reported as a success.
        returned = await client.executions.wait(execution, raise_on_failure=False)
        assert returned.failed and not returned.succeeded and returned.status == "ERROR"

        updates = [
            u
            async for u in client.executions.watch(
                execution, poll_interval=POLL, raise_on_failure=False
            )
        ]
        assert updates[-1].status == "ERROR" and updates[-1].is_final
        with pytest.raises(ExecutionFailedError):
            async for _ in client.executions.watch(execution, poll_interval=POLL):
                pass


@pytest.mark.anyio
async def test_a_canceled_run_raises_its_own_error(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        execution = await _start(client)
        server.step_execution(execution.id, 100)
        server.cancel_execution(execution.id)
        with pytest.raises(ExecutionCanceledError) as canceled:
            await client.executions.wait(execution, poll_interval=POLL)
    assert canceled.value.status == "CANCELED"
    assert canceled.value.execution.canceled and not canceled.value.execution.succeeded


@pytest.mark.anyio
async def test_a_run_failed_by_the_knob_carries_its_stderr(
    server: FlowServer, tmp_path: Path
) -> None:
    async with client_for(server, tmp_path) as client:
        execution = await _start(client)
        server.fail_execution(execution.id, "No space left on device")
        with pytest.raises(ExecutionFailedError) as failed:
            await client.executions.wait(execution, poll_interval=POLL)
    assert "No space left on device" in failed.value.stderr


@pytest.mark.anyio
@pytest.mark.timing
@pytest.mark.parametrize("given", ["execution", "id"])
async def test_wait_gives_up_after_its_timeout_and_the_run_goes_on(
    server: FlowServer, tmp_path: Path, given: str
) -> None:
    """The first read is held by the server (a ``stall`` a hundred times the timeout), so no
    poll can be answered before the deadline on any machine: the error carries the execution
    the caller passed (it once was None when the first poll had not returned); given a bare
    id nothing is known, so None. The run goes on."""
    async with client_for(server, tmp_path) as client:
        execution = await _start(client)
        server.add_fault("stall", route="execution", seconds=30, count=1)
        started = time.monotonic()
        try:
            with pytest.raises(ExecutionTimeoutError) as timed_out:
                await client.executions.wait(
                    execution if given == "execution" else execution.id,
                    poll_interval=POLL,
                    timeout=0.3,
                )
        finally:
            server.clear_faults()
        assert time.monotonic() - started < 30  # bounded (no timing verdict beyond that)
        assert isinstance(timed_out.value, TimeoutError)
        if given == "execution":
            assert timed_out.value.execution is execution
            assert f"execution {execution.id} still running after 0.3 s" in str(timed_out.value)
        else:
            assert timed_out.value.execution is None
            assert "the execution still running after 0.3 s" in str(timed_out.value)
        assert not (await client.executions.get(execution.id)).is_terminal


@pytest.mark.anyio
@pytest.mark.timing
async def test_a_timeout_after_a_poll_carries_that_poll(server: FlowServer, tmp_path: Path) -> None:
    """Once a poll was answered, a timeout carries its state, not the object passed in. The
    first update proves an answer came; the loop then stays suspended at that update until
    the deadline has surely passed (a deadline never strikes during a ``yield``), so the next
    step times out, whatever the machine's speed."""
    timeout = 3.0
    async with client_for(server, tmp_path) as client:
        execution = await _start(client)
        updates = client.executions.watch(execution, poll_interval=POLL, timeout=timeout)
        began = anyio.current_time()
        try:
            first = await anext(updates)
        except ExecutionTimeoutError as slow:
            # No answer within `timeout` on a machine this loaded: the other half of the rule.
            assert slow.execution is execution
            return
        assert first.execution is not execution and first.execution.id == execution.id
        await anyio.sleep(began + timeout - anyio.current_time() + 0.05)
        with pytest.raises(ExecutionTimeoutError) as timed_out:
            async for _ in updates:
                pass
    assert timed_out.value.execution is first.execution
    assert not timed_out.value.execution.is_terminal


@pytest.mark.anyio
async def test_get_log_tails_from_an_offset(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        execution = await _start(client)
        server.step_execution(execution.id, 30)
        first = await client.executions.get_log(execution)
        assert first.offset == 0 and first.next_offset == len(first.text.encode())
        assert first.status == "-" and "N E X T F L O W" in first.text
        server.step_execution(execution.id, 200)
        second = await client.executions.get_log(execution, offset=first.next_offset)
        assert second.text and second.offset == first.next_offset
        server.step_execution(execution.id, FINISH)
        rest = await client.executions.get_log(execution, offset=second.next_offset)
        full = await client.executions.get(execution.id)
    assert first.text + second.text + rest.text == full.log
    assert str(rest) == rest.text


@pytest.mark.anyio
async def test_polls_ask_only_for_what_they_need(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        execution = await _start(client)
        server.step_execution(execution.id, FINISH)
        server.reset_counters()
        updates = await _watch_all(client, execution)
    assert updates[-1].is_final
    # One trimmed poll saw the terminal status, one probe asked whether offsets are
    # honoured (the log was no longer empty), one full read fetched the outputs.
    assert server.counters().get("execution") == 3


@pytest.mark.anyio
async def test_web_url_strips_the_api_suffix() -> None:
    async with AsyncClient("https://app.flow.bio/api") as flow:
        assert flow.executions.web_url("7") == "https://app.flow.bio/executions/7/"
    async with AsyncClient("https://mycompany.flow.bio/api/") as private:
        url = private.executions.web_url("a/b")
    assert url == "https://mycompany.flow.bio/executions/a%2Fb/"
