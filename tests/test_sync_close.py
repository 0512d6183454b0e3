"""Closing a sync client is bounded, whatever its calls do after Ctrl-C (#12).

The case that hung ``make test``: a call still running when the client closed (its cleanup
outlived the Ctrl-C grace), whose cleanup then queued a callback event and waited for its
delivery after the delivery task group was gone. ``Client.__exit__`` joined the loop thread
for good. These tests provoke it, and the harder case of a call that ignores cancellation,
without sleeps: each step waits on an event.
"""

from __future__ import annotations

import signal
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from sync_points import BOUND, CtrlC, main_thread_in, wait_for

import flowbio_sync._portal as portal_module
from flowbio_async.testing import FlowServer
from flowbio_sync import Client, ClientConfig, SyncUsageError

pytestmark = pytest.mark.timing

GRACE = 1.0
"""CLOSE_TIMEOUT in these tests: short, so the abandon path runs quickly."""


class _Owner:
    """What owns a bare portal in these tests (a client, normally)."""


@pytest.fixture
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(portal_module, "CLEANUP_TIMEOUT", 0.2)
    monkeypatch.setattr(portal_module, "CLOSE_TIMEOUT", GRACE)


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set to let a stuck call finish; always set at the end so no thread outlives a test."""
    event = threading.Event()
    yield event
    event.set()


def _loop_thread(portal: portal_module.Portal) -> threading.Thread:
    state = portal._state
    assert state.loop is not None
    return state.loop.thread


async def _stuck_until(release: threading.Event) -> None:
    # A shielded wait without a deadline: the shape of cleanup that cannot be cancelled.
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(release.wait, BOUND)


def test_close_abandons_a_call_that_ignores_cancellation_with_a_warning(
    flow_server: FlowServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    short_grace: None,
    release: threading.Event,
) -> None:
    client = Client(flow_server.url, ClientConfig(show_progress=False, state_dir=tmp_path))
    started = threading.Event()

    async def stubborn() -> None:
        started.set()
        await _stuck_until(release)

    monkeypatch.setattr(client._async, "me", stubborn)
    with CtrlC(started.is_set, "the call starting"), pytest.raises(KeyboardInterrupt):
        client.me()
    begun = time.monotonic()
    with pytest.warns(RuntimeWarning, match=r"abandoned '.*stubborn'.*did not finish within 1 s"):
        client.close()
    waited = time.monotonic() - begun
    # It waited its grace, then returned with the call still stuck (it would hang forever
    # before #12); the upper bound only says "it returned", far above any machine's delay.
    assert GRACE <= waited < GRACE + BOUND
    assert not release.is_set() and client._portal.closed
    with pytest.raises(SyncUsageError, match="closed"):
        client.me()
    # The loop thread finishes the abandoned call in the background once it can.
    release.set()
    thread = _loop_thread(client._portal)
    thread.join(BOUND)
    assert not thread.is_alive()


def test_a_second_ctrl_c_ends_the_wait_of_close(
    monkeypatch: pytest.MonkeyPatch, release: threading.Event
) -> None:
    monkeypatch.setattr(portal_module, "CLEANUP_TIMEOUT", 0.2)
    monkeypatch.setattr(portal_module, "CLOSE_TIMEOUT", BOUND)  # only Ctrl-C ends this wait
    owner = _Owner()  # the portal closes when its owner is collected
    portal = portal_module.Portal(owner)
    started = threading.Event()

    async def stubborn() -> None:
        started.set()
        await _stuck_until(release)

    with CtrlC(started.is_set, "the call starting"), pytest.raises(KeyboardInterrupt):
        portal.call(stubborn)
    begun = time.monotonic()
    with (
        CtrlC(lambda: main_thread_in("_wait_futures"), "close() waiting"),
        pytest.warns(RuntimeWarning, match=r"abandoned '.*stubborn'.*a second Ctrl-C"),
        pytest.raises(KeyboardInterrupt),
    ):
        portal.close()
    assert time.monotonic() - begun < BOUND  # Ctrl-C ended it, not the (long) grace
    assert portal.closed
    release.set()
    thread = _loop_thread(portal)
    thread.join(BOUND)
    assert not thread.is_alive()


def _interrupt_a_transfer(portal: portal_module.Portal, release: threading.Event) -> list[str]:
    """Ctrl-C a call whose cleanup waits for ``release``, then sends a "finish" event."""
    seen: list[str] = []
    relay = portal.callback(seen.append)
    started = threading.Event()

    async def transfer(progress: portal_module._Relay) -> None:
        progress("start")
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            await _stuck_until(release)
            progress("finish")

    with CtrlC(started.is_set, "the call starting"), pytest.raises(KeyboardInterrupt):
        portal.call_with_callbacks([relay], transfer, relay)
    assert not release.is_set()  # Ctrl-C returned while the cleanup was still running
    return seen


def test_a_call_whose_cleanup_outlives_the_ctrl_c_grace_finishes_within_close(
    short_grace: None, release: threading.Event
) -> None:
    """The cleanup runs past Ctrl-C's grace; close() waits for it and its last event."""
    owner = _Owner()  # the portal closes when its owner is collected
    portal = portal_module.Portal(owner)
    seen = _interrupt_a_transfer(portal, release)
    release.set()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is abandoned: the call ends within the grace
        portal.close()
    assert seen == ["start", "finish"]
    assert not _loop_thread(portal).is_alive()


def test_an_event_queued_after_the_delivery_group_ended_does_not_strand_the_call(
    short_grace: None, release: threading.Event
) -> None:
    """The hang itself: the call's cleanup queues an event once close() has given up on it
    and the callback delivery group is gone; it must still end, and the thread with it."""
    owner = _Owner()  # the portal closes when its owner is collected
    portal = portal_module.Portal(owner)
    seen = _interrupt_a_transfer(portal, release)
    with pytest.warns(RuntimeWarning, match=r"abandoned '.*transfer'"):
        portal.close()
    thread = _loop_thread(portal)
    assert thread.is_alive()  # still running the abandoned call
    release.set()
    thread.join(BOUND)  # before #12 the call waited forever for the event's delivery
    assert not thread.is_alive()
    assert seen == ["start"]  # "finish" was dropped: nobody is left to receive it


def test_close_cancels_a_call_another_thread_is_blocked_in() -> None:
    owner = _Owner()  # the portal closes when its owner is collected
    portal = portal_module.Portal(owner)
    started = threading.Event()
    outcome: list[BaseException] = []

    async def forever() -> None:
        started.set()
        await anyio.sleep_forever()

    def call() -> None:
        try:
            portal.call(forever)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    wait_for(started.is_set, "the call starting")
    portal.close()
    worker.join(BOUND)
    assert not worker.is_alive()
    assert [type(exc) for exc in outcome] == [SyncUsageError]
    assert "closed while the call ran" in str(outcome[0])
    assert not _loop_thread(portal).is_alive()


class _Alarm(Exception):
    """What a test runner's timeout raises in the main thread (pytest-timeout's signal way)."""


def _raise_alarm(signum: int, frame: object) -> None:
    raise _Alarm


def test_any_exception_that_interrupts_a_call_cancels_its_task() -> None:
    """#12 began this way: pytest-timeout's exception left the call running, then close()."""
    previous = signal.signal(signal.SIGUSR1, _raise_alarm)
    try:
        owner = _Owner()  # the portal closes when its owner is collected
        portal = portal_module.Portal(owner)
        started, cancelled = threading.Event(), threading.Event()

        async def forever() -> None:
            started.set()
            try:
                await anyio.sleep_forever()
            finally:
                cancelled.set()

        with (
            CtrlC(started.is_set, "the call starting", signum=signal.SIGUSR1),
            pytest.raises(_Alarm),
        ):
            portal.call(forever)
        wait_for(cancelled.is_set, "the interrupted call being cancelled", bound=30)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # nothing left to abandon
            portal.close()
    finally:
        signal.signal(signal.SIGUSR1, previous)
