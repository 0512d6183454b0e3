"""The private event-loop thread behind every :class:`flowbio_sync.Client` (hand-written).

One anyio blocking portal per client: the async client is built *on* the portal's loop so its
connection pool binds to that loop, and every blocking call is one task on it (issue #5, design
note "sync facade"). Nothing here knows about the Flow API: the generated twins in
``_generated.py`` call :meth:`Portal.call`, :meth:`Portal.iterate`, :meth:`Portal.context` and
:meth:`Portal.callback`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import sys
import threading
import time
import warnings
import weakref
from collections import deque
from collections.abc import AsyncIterable, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, ParamSpec, TypeVar, cast, overload

import anyio
from anyio.from_thread import BlockingPortal

__all__ = ["Portal", "Pull", "SyncUsageError", "run_standalone", "twin_repr"]

T = TypeVar("T")
U = TypeVar("U")
P = ParamSpec("P")

logger = logging.getLogger("flowbio_sync")

CLEANUP_TIMEOUT = 5.0
"""Seconds a cancelled call gets to run its cleanup after Ctrl-C before we give up waiting."""
CLOSE_TIMEOUT = 5.0
"""Seconds :meth:`Portal.close` gives cancelled calls and the loop thread to finish before it
abandons what is left, with a warning naming it (#12)."""
START_TIMEOUT = 60.0
"""Seconds a new loop thread may take to start (a bound, not an expectation)."""
POLL_INTERVAL = 0.1
"""Blocking waits wake this often so a simulated Ctrl-C (``_thread.interrupt_main``) is seen."""
STREAM_BUFFER = 64
"""Items an async iterator may run ahead of the sync consumer (bounded memory)."""
CALLBACK_INTERVAL = 0.05
"""Minimum seconds between two batches of sync callback deliveries (throttling)."""

_running_loop_warned = False


class SyncUsageError(RuntimeError):
    """The sync client was used where it cannot work (closed, after fork, on its own loop)."""


@dataclass(slots=True)
class _Outcome(Generic[T]):
    """A call's result or exception, carried out of the loop thread as a value.

    BaseExceptions (KeyboardInterrupt, SystemExit) raised inside a portal task would tear the
    portal down (anyio issue 471), so the task returns them instead and the caller re-raises.
    """

    value: T | None = None
    error: BaseException | None = None

    def unwrap(self) -> T:
        if self.error is not None:
            error, self.error = self.error, None  # break the traceback reference cycle
            raise error
        return cast(T, self.value)


async def _capture(fn: Callable[[], Awaitable[T]]) -> _Outcome[T]:
    try:
        return _Outcome(value=await fn())
    except anyio.get_cancelled_exc_class():
        raise
    except BaseException as exc:
        return _Outcome(error=exc)


def _in_ipython() -> bool:
    shell = sys.modules.get("IPython")
    return shell is not None and getattr(shell, "get_ipython", lambda: None)() is not None


def _warn_if_inside_running_loop() -> None:
    """Warn once per process when a sync client is used from inside a running asyncio loop."""
    global _running_loop_warned
    if _running_loop_warned:
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    _running_loop_warned = True
    if _in_ipython():  # notebooks are a supported, expected home of the sync client
        return
    warnings.warn(
        "flowbio_sync.Client is blocking this running event loop; inside async code use "
        "flowbio_async.AsyncClient instead",
        RuntimeWarning,
        stacklevel=4,
    )


class _State:
    """What the finalizer needs to shut a portal down; holds no reference to the client."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.closed = False
        self.lock = threading.Lock()
        self.loop: _Loop | None = None
        self.loop_thread: int | None = None
        self.group: anyio.abc.TaskGroup | None = None
        self.tasks: set[_Task[Any]] = set()
        """Calls and producers still running (each removes itself when it ends)."""
        self.holder: _Holder | None = None

    def shutdown(self) -> None:
        """Cancel the calls, close the async object and stop the loop thread (idempotent)."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
        if os.getpid() != self.pid:  # a forked child: the loop thread does not exist here
            return
        if threading.get_ident() == self.loop_thread:
            # The garbage collector ran the finalizer on the loop thread itself, which cannot
            # wait for its own loop: stop from a helper thread instead.
            threading.Thread(target=self._stop, name="flowbio-sync-close", daemon=True).start()
            return
        self._stop()

    def running(self) -> list[_Task[Any]]:
        with self.lock:
            return [task for task in self.tasks if not task.future.done()]

    def _stop(self) -> None:
        """Cancel, wait until ``CLOSE_TIMEOUT``, then abandon what is left (#12).

        Every step is bounded: a call that ignores its cancellation (or whose cleanup is
        stuck) cannot keep ``close()`` waiting, and a second Ctrl-C ends the wait at once.
        """
        loop = self.loop
        if loop is None:
            return
        deadline = time.monotonic() + CLOSE_TIMEOUT
        holder = self.holder
        try:
            calls = [task for task in self.running() if holder is None or task is not holder.task]
            closed = "this flowbio_sync client was closed while the call ran"
            for task in calls:
                task.cancel(SyncUsageError(closed))
            _wait_futures([task.future for task in calls], deadline)
            exited = holder is None
            if holder is not None:
                holder.release()  # exit the async object (``aclose``) in the task that entered it
                exited = _wait_futures([holder.task.future], deadline)
                if not exited:
                    holder.task.cancel()
            for task in self.running():  # a call that began while close() was starting
                if holder is None or task is not holder.task:
                    task.cancel(SyncUsageError(closed))
            loop.stop_soon()
            stopped = _wait_thread(loop.thread, deadline)
        except BaseException as exc:  # Ctrl-C (or a signal handler's exception) ends the wait
            loop.stop_soon()
            why = "a second Ctrl-C" if isinstance(exc, KeyboardInterrupt) else type(exc).__name__
            self._abandon(f"{why} ended the wait")
            raise
        if not stopped:
            self._abandon(f"they did not finish within {CLOSE_TIMEOUT:g} s of being cancelled")
        elif holder is not None and holder.entered and exited:
            holder.task.future.result().unwrap()  # an error closing the async object surfaces

    def _abandon(self, why: str) -> None:
        loop = self.loop
        assert loop is not None
        names = [task.name for task in self.running()] or loop.task_names()
        what = ", ".join(repr(name) for name in names) or "the event-loop thread"
        message = (
            f"flowbio_sync: closing the client abandoned {what}: {why}. "
            "The event-loop thread finishes them in the background if it can."
        )
        logger.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=7)  # the code calling close()


class _Loop:
    """The private event loop, run by a daemon thread, hosting an anyio ``BlockingPortal``.

    Not ``anyio.from_thread.start_blocking_portal``: leaving it joins the thread without a
    bound, and the thread's ``asyncio`` runner first waits for every task left on the loop,
    however long that takes. A call that outlived its cancellation therefore hung
    ``Client.__exit__`` for good (#12). Here ``close`` bounds its own wait, and the thread
    finishes what is left (or not) on its own time: it is a daemon, it never blocks exit.
    """

    def __init__(self) -> None:
        ready: Future[tuple[BlockingPortal, asyncio.AbstractEventLoop]] = Future()
        self.thread = threading.Thread(
            target=self._main, args=(ready,), name="flowbio-sync-loop", daemon=True
        )
        self.thread.start()
        self.portal, self.loop = ready.result(timeout=START_TIMEOUT)

    def _main(self, ready: Future[tuple[BlockingPortal, asyncio.AbstractEventLoop]]) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._host(ready))
            # Tasks still on the loop (calls that outlived close's wait, strays): cancel the
            # strays as asyncio.run would and let everything end; our calls were already
            # cancelled through their cancel scopes, whose shielded cleanup is respected.
            left = asyncio.all_tasks(loop)
            for task in left:
                if not task.get_name().startswith(_TASK_PREFIX):
                    task.cancel()
            if left:
                loop.run_until_complete(asyncio.wait(left))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            else:
                logger.exception("flowbio_sync: the event-loop thread failed")
        finally:
            loop.close()

    @staticmethod
    async def _host(ready: Future[tuple[BlockingPortal, asyncio.AbstractEventLoop]]) -> None:
        async with BlockingPortal() as portal:
            ready.set_result((portal, asyncio.get_running_loop()))
            await portal.sleep_until_stopped()

    def stop_soon(self) -> None:
        """Ask the portal to stop, cancelling its own tasks (never waits; idempotent)."""
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            asyncio.run_coroutine_threadsafe(self.portal.stop(cancel_remaining=True), self.loop)

    def task_names(self) -> list[str]:
        """Names of the tasks on the loop (for the abandon warning; a racy snapshot is fine)."""
        with contextlib.suppress(RuntimeError):
            return sorted(task.get_name() for task in asyncio.all_tasks(self.loop))
        return []


def _wait_futures(futures: Sequence[concurrent.futures.Future[Any]], deadline: float) -> bool:
    """Wait until every future is done or ``deadline``; True if all are done.

    Polls in short slices so a Ctrl-C (even a simulated one) interrupts the wait.
    """
    pending = [future for future in futures if not future.done()]
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        concurrent.futures.wait(pending, min(left, POLL_INTERVAL))
        pending = [future for future in pending if not future.done()]
    return True


def _wait_thread(thread: threading.Thread, deadline: float) -> bool:
    while thread.is_alive():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        thread.join(min(left, POLL_INTERVAL))
    return True


class Portal:
    """A private event loop in its own thread, owned by one sync object.

    Example:
        ```python
        portal = Portal(owner)
        value = portal.call(some_coroutine_function, 1, key="x")
        portal.close()
        ```
    """

    def __init__(self, owner: object) -> None:
        _warn_if_inside_running_loop()
        state = _State()
        state.loop = loop = _Loop()
        self._state = state
        self._portal = loop.portal
        self._loop = loop.loop
        state.loop_thread = loop.thread.ident
        # Backstop: a client never closed still stops its thread when collected or at exit.
        self._finalizer = weakref.finalize(owner, state.shutdown)
        try:
            ready: Future[anyio.abc.TaskGroup] = Future()
            self._portal.start_task_soon(self._serve, ready)
            state.group = ready.result(timeout=START_TIMEOUT)
        except BaseException:
            self.close()
            raise

    @staticmethod
    async def _serve(ready: Future[anyio.abc.TaskGroup]) -> None:
        """Host a task group for work outliving one call (callback deliveries)."""
        async with anyio.create_task_group() as group:
            ready.set_result(group)
            await anyio.sleep_forever()

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self, factory: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Build the async object on the loop (so pools bind to it) and enter it if it is an
        async context manager (else :meth:`close` calls its ``aclose``, if any)."""
        self._check()
        try:
            obj = self._portal.call(lambda: factory(*args, **kwargs))
            if isinstance(obj, AbstractAsyncContextManager):
                holder = _Holder(self, obj)
                self._state.holder = holder
                holder.enter()
            elif callable(aclose := getattr(obj, "aclose", None)):
                self._state.holder = _Holder(self, _Aclosing(aclose))
                self._state.holder.enter()
        except BaseException:
            self.close()  # bad arguments: do not leave the loop thread behind
            raise
        return obj

    def close(self) -> None:
        """Cancel running calls, close the async object and stop the loop thread.

        Bounded: what has not finished ``CLOSE_TIMEOUT`` seconds after being cancelled is
        abandoned with a ``RuntimeWarning`` naming it; a Ctrl-C ends the wait at once.
        Calling it again does nothing.
        """
        self._finalizer()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran (or the finalizer did)."""
        return self._state.closed

    def _check(self) -> None:
        state = self._state
        if os.getpid() != state.pid:
            raise SyncUsageError(
                "this flowbio_sync client was created in another process; after fork, "
                "create a new Client in the child process"
            )
        if state.closed:
            raise SyncUsageError("this flowbio_sync client is closed")
        if threading.get_ident() == state.loop_thread:
            raise SyncUsageError(
                "a flowbio_sync call was made from the client's own event-loop thread, which "
                "would deadlock; use the async client (flowbio_async) from async code"
            )

    # -- calls -------------------------------------------------------------------------------

    def call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``await fn(*args, **kwargs)`` on the loop and block until it finishes.

        Ctrl-C cancels the task, waits up to ``CLEANUP_TIMEOUT`` for its cleanup, then
        re-raises the KeyboardInterrupt here.
        """
        return self.wait(self.start(lambda: fn(*args, **kwargs), name=_name(fn)))

    def call_with_callbacks(
        self,
        callbacks: Sequence[object],
        fn: Callable[P, Awaitable[T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Like :meth:`call`, then wait until every callback queued by the call was delivered."""
        relays = list(_flatten(callbacks))

        async def run() -> T:
            try:
                result = await fn(*args, **kwargs)
            except BaseException:
                # A failed or cancelled call still delivers its last events (the "finish" a
                # progress bar waits for), under a shield but for a bounded time: a callback
                # that never returns must not keep a cancelled call alive (#12).
                with anyio.move_on_after(CLEANUP_TIMEOUT, shield=True):
                    await _drain(relays)
                raise
            await _drain(relays)
            return result

        return self.wait(self.start(run, name=_name(fn)))

    def _wait(self, task: _Task[T]) -> _Outcome[T]:
        try:
            while True:
                try:
                    return task.future.result(timeout=POLL_INTERVAL)
                except TimeoutError:
                    continue
        except BaseException:
            # Ctrl-C, or anything else a signal handler raises here (a test runner's timeout,
            # SystemExit): portal.call would leave the task running (design note 3), and a
            # task left running is what hung close() in #12. Cancel it, give its cleanup a
            # bounded time (a transfer keeps its part file resumable), re-raise. A task still
            # running then is close()'s to wait for, within its own bound.
            task.cancel()
            _wait_futures([task.future], time.monotonic() + CLEANUP_TIMEOUT)
            raise

    @overload
    def iterate(self, source: AsyncIterable[T]) -> Iterator[T]: ...
    @overload
    def iterate(self, source: AsyncIterable[T], convert: Callable[[T], U]) -> Iterator[U]: ...
    def iterate(
        self, source: AsyncIterable[T], convert: Callable[[T], U] | None = None
    ) -> Iterator[T] | Iterator[U]:
        """Iterate an async iterable from this thread (one producer task; see :class:`Pull`)."""
        self._check()
        return _iterate(Pull(self, source), convert)

    @overload
    def context(self, manager: AbstractAsyncContextManager[T]) -> AbstractContextManager[T]: ...
    @overload
    def context(
        self, manager: AbstractAsyncContextManager[T], convert: Callable[[T], U]
    ) -> AbstractContextManager[U]: ...
    def context(
        self, manager: AbstractAsyncContextManager[T], convert: Callable[[T], U] | None = None
    ) -> AbstractContextManager[T] | AbstractContextManager[U]:
        """A sync context manager whose enter and exit run in one task on the loop."""
        self._check()
        return _Context(self._portal.wrap_async_context_manager(manager), convert)

    def resolve(self, awaitable: Awaitable[T]) -> T:
        """Block until an awaitable object (not a coroutine function) completes."""

        async def run() -> T:
            return await awaitable

        return self.call(run)

    def callback(self, fn: T) -> T:
        """Wrap a sync callback so the loop only queues calls; a worker thread runs them.

        A list or tuple of callbacks is wrapped item by item; anything else that is not
        callable (``None``, a flag) is returned unchanged.
        """
        return self._relay(fn, _Relay)

    def async_callback(self, fn: T) -> T:
        """Like :meth:`callback` for parameters that expect an awaitable result."""
        return self._relay(fn, _AsyncRelay)

    def _relay(self, fn: T, kind: type[_Relay]) -> T:
        if callable(fn):
            return cast(T, kind(fn, self._group()))
        if isinstance(fn, list | tuple):
            return cast(T, type(fn)(self._relay(item, kind) for item in fn))
        return fn

    def _group(self) -> anyio.abc.TaskGroup:
        group = self._state.group
        assert group is not None
        return group

    def start(self, fn: Callable[[], Awaitable[T]], *, name: str | None = None) -> _Task[T]:
        """Start ``await fn()`` as a task on the loop without waiting for it.

        ``name`` says what the task is in :meth:`close`'s warning if it has to abandon it.
        """
        self._check()
        return _Task(self._loop, fn, name or _name(fn), self._state)

    def wait(self, task: _Task[T]) -> T:
        """Block on a task started with :meth:`start` (Ctrl-C cancels it)."""
        return self._wait(task).unwrap()


_TASK_PREFIX = "flowbio_sync:"
"""Names of the tasks that carry calls (the loop thread tells them from strays)."""


class _Task(Generic[T]):
    """One call running on the loop, cancellable from any thread through its cancel scope.

    Submitted with ``run_coroutine_threadsafe`` rather than ``BlockingPortal.start_task_soon``:
    one thread hop instead of two, which is most of the facade's per-call cost (#5 benchmark).
    Such a task belongs to no task group, so the portal tracks it (``_State.tasks``) and
    ``close`` cancels and waits for it (#12).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        fn: Callable[[], Awaitable[T]],
        name: str,
        state: _State,
    ) -> None:
        self._loop = loop
        self.name = name
        self._scope: anyio.CancelScope | None = None
        self._cancelled = False
        self._reason: BaseException = KeyboardInterrupt()
        with state.lock:
            self.future = asyncio.run_coroutine_threadsafe(self._run(fn), loop)
            state.tasks.add(self)
        self.future.add_done_callback(lambda _: _forget(state, self))

    async def _run(self, fn: Callable[[], Awaitable[T]]) -> _Outcome[T]:
        task = asyncio.current_task()
        if task is not None:
            task.set_name(f"{_TASK_PREFIX} {self.name}")
        with anyio.CancelScope() as scope:
            self._scope = scope
            if self._cancelled:
                scope.cancel()
            return await _capture(fn)
        return _Outcome(error=self._reason)  # reached only when cancelled

    def cancel(self, reason: BaseException | None = None) -> None:
        """Cancel the task's scope (its cleanup still runs; shielded parts finish).

        Whoever waits for the task gets ``reason`` (default ``KeyboardInterrupt``: Ctrl-C).
        """
        if reason is not None:
            self._reason = reason
        if not self.future.done():
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._loop.call_soon_threadsafe(self._cancel_on_loop)

    def _cancel_on_loop(self) -> None:
        self._cancelled = True
        if self._scope is not None:
            self._scope.cancel()


def _forget(state: _State, task: _Task[Any]) -> None:
    with state.lock:
        state.tasks.discard(task)


def _name(fn: object) -> str:
    """``DataResource.download`` for a bound method, else the function's qualified name."""
    owner = getattr(fn, "__self__", None)
    name = getattr(fn, "__name__", None)
    if owner is not None and name:
        return f"{type(owner).__name__}.{name}"
    return str(getattr(fn, "__qualname__", None) or name or type(fn).__name__)


async def _drain(relays: Sequence[_Relay]) -> None:
    for relay in relays:
        await relay.drain()


def _flatten(callbacks: Sequence[object]) -> Iterator[_Relay]:
    for item in callbacks:
        if isinstance(item, _Relay):
            yield item
        elif isinstance(item, list | tuple):
            yield from _flatten(item)


class _Aclosing(AbstractAsyncContextManager[None]):
    """An object with ``aclose`` but no ``async with``: closed when the portal closes."""

    def __init__(self, aclose: Callable[[], Awaitable[Any]]) -> None:
        self._aclose = aclose

    async def __aexit__(self, *exc_info: object) -> None:
        await self._aclose()


class _Holder:
    """Keeps the portal's async object entered, in one task, until :meth:`Portal.close`.

    Enter and exit run in the same task (as ``BlockingPortal.wrap_async_context_manager``
    does), but the task is one of ours: close bounds its wait for the exit and can cancel it.
    """

    def __init__(self, portal: Portal, manager: AbstractAsyncContextManager[Any]) -> None:
        self._manager = manager
        self._entered: Future[None] = Future()
        self._release: anyio.Event | None = None
        self._loop = portal._loop
        self.task = portal.start(self._hold, name=f"{type(manager).__name__} (close)")

    async def _hold(self) -> None:
        async with self._manager:
            self._release = anyio.Event()
            self._entered.set_result(None)
            await self._release.wait()

    @property
    def entered(self) -> bool:
        return self._entered.done()

    def enter(self) -> None:
        """Block until the object is entered (its ``__aenter__`` error is raised here)."""
        while not self._entered.done():
            if self.task.future.done():
                self.task.future.result().unwrap()
                raise RuntimeError("the async object was never entered")
            futures: list[Future[Any]] = [self._entered, self.task.future]
            concurrent.futures.wait(futures, POLL_INTERVAL, concurrent.futures.FIRST_COMPLETED)

    def release(self) -> None:
        """Let the holding task leave ``async with`` (never waits)."""
        release = self._release
        if release is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._loop.call_soon_threadsafe(release.set)
        else:
            self.task.cancel()  # still entering: nothing to exit gracefully


class _Context(AbstractContextManager[U], Generic[T, U]):
    def __init__(self, inner: AbstractContextManager[T], convert: Callable[[T], U] | None) -> None:
        self._inner = inner
        self._convert = convert

    def __enter__(self) -> U:
        value = self._inner.__enter__()
        return self._convert(value) if self._convert else cast(U, value)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return self._inner.__exit__(exc_type, exc, tb)


_END = object()


class Pull(Generic[T]):
    """Drive an async iterable in ONE portal task feeding a bounded memory stream.

    Running each ``__anext__`` as its own task breaks generators that keep a cancel scope or an
    ``async with`` open across ``yield`` (design note 5); here the producer owns the iteration
    and :meth:`close` cancels it.
    """

    def __init__(self, portal: Portal, source: AsyncIterable[T]) -> None:
        self._portal = portal
        self._send, self._receive = anyio.create_memory_object_stream[_Outcome[Any]](STREAM_BUFFER)
        self._source = source
        self._producer: _Task[None] | None = None
        self._batch: deque[_Outcome[Any]] = deque()
        self._done = False

    async def _produce(self) -> None:
        iterator = self._source.__aiter__()
        async with self._send:
            try:
                async for item in iterator:
                    await self._send.send(_Outcome(value=item))
            except anyio.get_cancelled_exc_class():
                raise
            except BaseException as exc:
                await self._send.send(_Outcome(error=exc))
            else:
                await self._send.send(_Outcome(value=_END))
            finally:
                # Close the generator in this task, where it entered its scopes. Not under a
                # shield: anyio mis-tracks a generator's cancel scope exited inside one (the
                # portal's other tasks get cancelled); cleanup that must await shields itself.
                aclose = getattr(iterator, "aclose", None)
                if aclose is not None:
                    await aclose()

    async def _take(self) -> list[_Outcome[Any]]:
        # One thread hop per batch of ready items, not per item.
        items = [await self._receive.receive()]
        while len(items) < STREAM_BUFFER:
            try:
                items.append(self._receive.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream):
                break
        return items

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        if not self._batch:
            if self._producer is None:
                self._producer = self._portal.start(self._produce, name=_name(self._source))
            try:
                self._batch.extend(self._portal.call(self._take))
            except BaseException:
                self.close()
                raise
        outcome = self._batch.popleft()
        if outcome.error is None and outcome.value is _END:
            self.close()
            raise StopIteration
        if outcome.error is not None:
            self.close()
        return cast(T, outcome.unwrap())

    def close(self) -> None:
        """Stop the producer (cancelling the async iteration) and release the stream."""
        if self._done:
            return
        self._done = True
        if self._producer is not None:
            self._producer.cancel()
            if not self._portal.closed:
                _wait_futures([self._producer.future], time.monotonic() + CLEANUP_TIMEOUT)
        self._receive.close()


def _iterate(pull: Pull[T], convert: Callable[[T], U] | None) -> Iterator[U]:
    # A generator, so leaving a for loop early closes the producer (generator finalization).
    try:
        while True:
            try:
                item = next(pull)
            except StopIteration:
                return
            yield convert(item) if convert else cast(U, item)
    finally:
        pull.close()


class _Relay:
    """A sync callback seen by the loop: calls are queued in order and delivered in batches by a
    worker thread (``anyio.to_thread``), so a slow callback never stalls a transfer."""

    def __init__(self, fn: Callable[..., Any], group: anyio.abc.TaskGroup) -> None:
        self._fn = fn
        self._group = group
        self._queue: deque[tuple[tuple[Any, ...], dict[str, Any]]] = deque()
        self._idle = anyio.Event()
        self._idle.set()

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self._queue.append((args, kwargs))
        if self._idle.is_set():
            idle = self._idle = anyio.Event()
            try:
                self._group.start_soon(self._deliver)
            except RuntimeError:
                # The client is closing and its delivery group has ended. Drop the calls
                # rather than leave drain() waiting for a delivery that never starts: that
                # wait, shielded, is what hung close() after a Ctrl-C (#12).
                dropped = len(self._queue)
                self._queue.clear()
                idle.set()
                logger.debug("flowbio_sync: client closing, %d callback call(s) dropped", dropped)

    async def _deliver(self) -> None:
        try:
            while self._queue:
                batch = list(self._queue)
                self._queue.clear()
                await anyio.to_thread.run_sync(self._run_batch, batch)
                if self._queue:
                    await anyio.sleep(CALLBACK_INTERVAL)
        finally:
            self._idle.set()

    def _run_batch(self, batch: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> None:
        for args, kwargs in batch:
            try:
                self._fn(*args, **kwargs)
            except Exception:
                # A broken progress callback must not fail or stall the transfer itself.
                logger.exception("flowbio_sync: a callback raised; the call goes on")

    async def drain(self) -> None:
        """Wait until every queued call has been delivered."""
        await self._idle.wait()


class _AsyncRelay(_Relay):
    async def __call__(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        _Relay.__call__(self, *args, **kwargs)


def twin_repr(twin: object, inner: object) -> str:
    """The async object's repr under the twin's name (``AsyncClient(...)`` → ``Client(...)``)."""
    text = repr(inner)
    prefix = type(inner).__name__
    return type(twin).__name__ + text[len(prefix) :] if text.startswith(prefix) else text


def run_standalone(fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run one coroutine function to completion on a short-lived private loop thread."""
    owner = _Owner()
    portal = Portal(owner)
    try:
        return portal.call(fn, *args, **kwargs)
    finally:
        portal.close()


class _Owner:
    """An anchor object for a portal that belongs to no client."""
