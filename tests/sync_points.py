"""Wait on events, never on sleeps (#12): a slow machine changes how long a test takes, not
its verdict. Helpers for the timing-sensitive tests (marked ``timing``; ``make stress``).

Every wait has a bound, far above what any machine needs, so a broken test fails with a
message instead of hanging.
"""

from __future__ import annotations

import _thread
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from flowbio_async.testing import FlowServer

BOUND = 120.0
"""Seconds any wait here may take before the test fails (not an expectation)."""
POLL = 0.02


def wait_for(condition: Callable[[], bool], what: str, bound: float = BOUND) -> None:
    """Return once ``condition()`` holds; fail the test after ``bound`` seconds."""
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still not the case after {bound:g} s")
        time.sleep(POLL)


def fault_applied(server: FlowServer, fault: dict[str, Any]) -> bool:
    """Whether the server has applied ``fault`` (as returned by ``add_fault``) at least once.

    A ``stall`` is applied when the request arrives, so this is "the server is holding it".
    """
    keys = ("action", "path", "route", "nth")
    return any(
        all(rule[key] == fault[key] for key in keys) and rule["applied"] >= 1
        for rule in server.faults()
    )


def main_thread_in(function: str) -> bool:
    """Whether the main thread is currently running ``function`` (anywhere on its stack)."""
    frame = sys._current_frames().get(threading.main_thread().ident or 0)
    while frame is not None:
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False


class CtrlC:
    """Press Ctrl-C (``_thread.interrupt_main``, what SIGINT does) once a condition holds.

    ``signum`` simulates another signal instead (its Python handler runs in the main thread).

    Example:
        ```python
        with CtrlC(lambda: fault_applied(server, stall), "the upload reaching the stall"):
            with pytest.raises(KeyboardInterrupt):
                client.data.upload_data(path)
        ```
    """

    def __init__(
        self,
        condition: Callable[[], bool],
        what: str,
        bound: float = BOUND,
        signum: int = signal.SIGINT,
    ) -> None:
        self._signum = signum
        self._condition = condition
        self._what = what
        self._bound = bound
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._called_off = False
        self.pressed = False
        self._thread = threading.Thread(target=self._run, name="ctrl-c", daemon=True)

    def _run(self) -> None:
        try:
            wait_for(lambda: self._called_off or self._condition(), self._what, self._bound)
        except BaseException as exc:
            self._error = exc
        with self._lock:
            if not self._called_off:
                # Also when the wait failed: the main thread must not stay blocked.
                _thread.interrupt_main(self._signum)
                self.pressed = True

    def __enter__(self) -> CtrlC:
        handler = signal.getsignal(self._signum)
        # interrupt_main does nothing for an ignored signal (tests/conftest.py restores SIGINT).
        assert callable(handler), f"signal {self._signum} has no Python handler: {handler!r}"
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        with self._lock:
            self._called_off = True  # the block is over: never press after it
        self._thread.join(self._bound + 10)
        if exc_type is not None:
            return  # the block's own failure says more
        if self._error is not None:
            raise AssertionError(f"Ctrl-C was pressed only after a failed wait: {self._error}")
        if not self.pressed:
            raise AssertionError(f"the block ended before {self._what}")
