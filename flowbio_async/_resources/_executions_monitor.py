"""Execution operations: wait for a run, watch it, read its log (#11).

Polling reads ``GET /executions/<id>`` trimmed with ``include=`` and tails the log with
``log=<offset>`` (flow-skills ``endpoints/executions.md``). Terminal statuses are ``OK``,
``ERROR`` and ``CANCELED`` (``""`` or ``-`` while running), compared case-insensitively. The
delay starts at ``poll_interval``, grows ×1.5 while nothing changes up to
``max_poll_interval``, resets on any change, and carries ±25 % jitter. A poll that fails on
the network or with a 5xx/429 is retried after the next delay (a long wait survives a
blip); ten in a row give up. A run that ends in ERROR or CANCELED raises (unless asked not to):
nothing here ever reports a failed run as a success.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine, Mapping
from typing import Any

import anyio

from flowbio_async._errors import (
    ConfigurationError,
    FlowTransportError,
    RateLimitError,
    ServerError,
)
from flowbio_async._models._executions import Execution
from flowbio_async._models._monitoring import ExecutionLog, ExecutionUpdate
from flowbio_async._pipeline_errors import (
    ExecutionCanceledError,
    ExecutionError,
    ExecutionFailedError,
    ExecutionTimeoutError,
)
from flowbio_async._resources._base import Resource, parse_response, segment
from flowbio_async._resources._log_cursor import (
    PROBE_OFFSET,
    LogCursor,
    next_interval,
    poll_delay,
)
from flowbio_async._resources._run_body import ref_id
from flowbio_async._status_line import execution_status_line
from flowbio_async._types import ExecutionOrId

#: Fields a poll asks for (``include=``): enough for status, steps and the log tail.
POLL_FIELDS = (
    "id",
    "identifier",
    "status",
    "created",
    "started",
    "finished",
    "pipeline_name",
    "pipeline_version",
    "process_executions",
    "log",
)
MAX_POLL_FAILURES = 10


def execution_id_of(execution_or_id: ExecutionOrId) -> str:
    """The id of an execution given as an object or an id."""
    found = ref_id(execution_or_id)
    if found is None:
        raise ConfigurationError(f"not an execution or an execution id: {execution_or_id!r}")
    return found


def failure_for(execution: Execution, log_tail: str) -> ExecutionError | None:
    """The error a finished run raises, or None when it succeeded."""
    if execution.succeeded:
        return None
    if execution.canceled:
        return ExecutionCanceledError(execution, log_tail=log_tail)
    return ExecutionFailedError(execution, log_tail=log_tail)


class ExecutionMonitoring(Resource):
    """Waiting for and watching executions (mixin of :class:`ExecutionResource`)."""

    def web_url(self, execution_or_id: ExecutionOrId) -> str:
        """The execution's page in the Flow web app (the API base without ``/api``).

        Example:
            ```python
            print(client.executions.web_url("7"))  # https://app.flow.bio/executions/7/
            ```
        """
        base = self._ctx.http.base_url.rstrip("/").removesuffix("/api")
        return f"{base}/executions/{segment(execution_id_of(execution_or_id))}/"

    async def get_log(self, execution_or_id: ExecutionOrId, *, offset: int = 0) -> ExecutionLog:
        """The execution's log from byte ``offset`` (``?log=<offset>``); keep tailing from
        ``next_offset``.

        Example:
            ```python
            chunk = await client.executions.get_log("7")
            print(chunk.text, chunk.status)
            ```
        """
        execution_id = execution_id_of(execution_or_id)
        params = {"log": max(0, offset), "include": ["id", "log", "status"]}
        execution = await self._fetch(execution_id, params)
        text = execution.log or ""
        return ExecutionLog(
            text=text,
            offset=max(0, offset),
            next_offset=max(0, offset) + len(text.encode("utf-8")),
            status=execution.status,
        )

    async def watch(
        self,
        execution_or_id: ExecutionOrId,
        *,
        poll_interval: float = 5.0,
        max_poll_interval: float = 60.0,
        timeout: float | None = None,  # noqa: ASYNC109 - an overall deadline, documented
        log: bool = True,
        log_offset: int = 0,
        raise_on_failure: bool = True,
    ) -> AsyncIterator[ExecutionUpdate]:
        """Follow an execution to its end: status changes, steps starting and finishing,
        and new log text (read from the last offset, never sent twice).

        The last update is the terminal status with the full execution (outputs included).
        After it, a run that ended in ERROR raises :class:`ExecutionFailedError` (CANCELED:
        :class:`ExecutionCanceledError`) unless ``raise_on_failure=False``. ``timeout``
        (seconds, counted from the call and bounding every request and pause) raises
        :class:`ExecutionTimeoutError`; the run itself goes on. Its ``execution`` is the
        freshest state known: the last answered poll, else the :class:`Execution` you passed
        (``None`` only when you passed an id and no read was answered in time).

        Example:
            ```python
            async for update in client.executions.watch(execution, poll_interval=2):
                if update.kind == "log":
                    print(update.text, end="")
                else:
                    print(f"[{update.kind}] {update.status}")
            ```
        """
        execution_id = execution_id_of(execution_or_id)
        _check_intervals(poll_interval, max_poll_interval, timeout)
        # What a timeout reports before the first answer: the caller's own object, if any.
        last = execution_or_id if isinstance(execution_or_id, Execution) else None
        cursor = LogCursor(log_offset)
        deadline = None if timeout is None else anyio.current_time() + timeout
        clock = _Clock(deadline, timeout)
        steps: dict[str, str] = {}
        status: str | None = None
        delay = poll_interval
        while True:
            if log and cursor.needs_probe:
                await self._probe(execution_id, cursor, clock, last)
            asked = cursor.offset
            snapshot = await self._poll(execution_id, asked if log else None, clock, delay, last)
            last = snapshot
            updates = _changes(snapshot, steps, cursor if log else None, asked)
            full = snapshot
            if snapshot.is_terminal:
                # One full read: outputs, stderr and whatever log text came last.
                if log and cursor.needs_probe:
                    await self._probe(execution_id, cursor, clock, last)
                final_asked = cursor.offset
                final_params = {"log": final_asked} if log else {"exclude": ["log"]}
                full = await clock.bound(self._fetch(execution_id, final_params), snapshot)
                if log:
                    updates += _log_update(full, cursor, full.log or "", final_asked)
                updates = [_with(u, full) for u in updates]
            current = (full.status or "").strip()
            moved = current != status or full.is_terminal
            if moved and not full.is_terminal:
                # A run that starts is reported before the steps and log it started with.
                yield ExecutionUpdate("status", full, current, previous_status=status)
            for update in updates:
                yield update
            if moved and full.is_terminal:
                # The terminal status comes last, with the full execution.
                yield ExecutionUpdate("status", full, current, previous_status=status)
            changed = bool(updates) or current != status
            status = current
            if full.is_terminal:
                error = failure_for(full, cursor.tail())
                if error is not None and raise_on_failure:
                    raise error
                return
            delay = next_interval(
                delay, changed=changed, initial=poll_interval, maximum=max_poll_interval
            )
            await clock.sleep(poll_delay(delay), snapshot)

    async def wait(
        self,
        execution_or_id: ExecutionOrId,
        *,
        poll_interval: float = 5.0,
        max_poll_interval: float = 60.0,
        timeout: float | None = None,  # noqa: ASYNC109 - an overall deadline, documented
        raise_on_failure: bool = True,
        progress: bool | None = None,
    ) -> Execution:
        """Poll until the execution finishes and return it (full detail, outputs included).

        A run that ended in ERROR raises :class:`ExecutionFailedError` carrying the status,
        its stderr and the log's tail (CANCELED: :class:`ExecutionCanceledError`); with
        ``raise_on_failure=False`` it is returned instead; check ``execution.succeeded``.
        ``timeout`` (seconds from the call; it bounds every request too) raises
        :class:`ExecutionTimeoutError` and leaves the run going; its ``execution`` is the
        last poll's answer or, when none came in time, the :class:`Execution` you passed.
        ``progress`` (default: ``config.show_progress``) draws a status line on a terminal.

        Example:
            ```python
            execution = await client.executions.wait(execution, timeout=6 * 3600)
            print(execution.status, len(execution.outputs))
            ```
        """
        execution_id = execution_id_of(execution_or_id)
        shown = self._ctx.config.show_progress if progress is None else progress
        final: Execution | None = None
        with execution_status_line(shown, f"execution {execution_id}") as show:
            async for update in self.watch(
                execution_or_id,  # the object itself: a timeout before any answer reports it
                poll_interval=poll_interval,
                max_poll_interval=max_poll_interval,
                timeout=timeout,
                raise_on_failure=raise_on_failure,
            ):
                show(update)
                final = update.execution
        assert final is not None, "watch ends with the terminal status update"
        return final

    # -- helpers ----------------------------------------------------------------------------
    async def _fetch(self, execution_id: str, params: Mapping[str, Any]) -> Execution:
        path = f"executions/{segment(execution_id)}"
        response = await self._ctx.http.request("GET", path, params=params)
        execution = parse_response(Execution, response, f"GET {path}")
        for data in execution.outputs:
            self._with_download_url(data)
        return execution

    async def _probe(
        self, execution_id: str, cursor: LogCursor, clock: _Clock, last: Execution | None
    ) -> None:
        """Ask far past the log's end once: does this server honour ``log=`` offsets?"""
        params = {"include": ["id", "log"], "log": cursor.offset + PROBE_OFFSET}
        answer = await clock.bound(self._fetch(execution_id, params), last)
        cursor.probed(answer.log or "")

    async def _poll(
        self,
        execution_id: str,
        log_offset: int | None,
        clock: _Clock,
        delay: float,
        last: Execution | None,
    ) -> Execution:
        """One poll (retried on a blip); a timeout meanwhile reports ``last``."""
        fields = [f for f in POLL_FIELDS if log_offset is not None or f != "log"]
        params: dict[str, Any] = {"include": fields}
        if log_offset is not None:
            params["log"] = log_offset
        failures = 0
        while True:
            try:
                return await clock.bound(self._fetch(execution_id, params), last)
            except (FlowTransportError, ServerError, RateLimitError):
                failures += 1
                if failures >= MAX_POLL_FAILURES:
                    raise
            await clock.sleep(poll_delay(delay), last)


def _check_intervals(poll: float, maximum: float, timeout: float | None) -> None:
    """Refuse intervals that would poll in a tight loop, before any request."""
    if not poll > 0:
        raise ConfigurationError(f"poll_interval must be positive, got {poll!r}")
    if not maximum >= poll:
        raise ConfigurationError(f"max_poll_interval ({maximum!r}) is below poll_interval")
    if timeout is not None and not timeout > 0:
        raise ConfigurationError(f"timeout must be positive, got {timeout!r}")


class _Clock:
    """The overall deadline of a watch: bounds each request and sleep, never a ``yield``."""

    def __init__(self, deadline: float | None, timeout: float | None) -> None:
        self.deadline = deadline
        self.timeout = timeout

    def _remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - anyio.current_time()

    def _expired(self, last: Execution | None) -> ExecutionTimeoutError:
        return ExecutionTimeoutError(last, self.timeout or 0.0)

    async def bound(
        self, call: Coroutine[Any, Any, Execution], last: Execution | None
    ) -> Execution:
        remaining = self._remaining()
        if remaining is None:
            return await call
        if remaining <= 0:
            call.close()
            raise self._expired(last)
        try:
            with anyio.fail_after(remaining):
                return await call
        except TimeoutError:
            raise self._expired(last) from None

    async def sleep(self, seconds: float, last: Execution | None) -> None:
        remaining = self._remaining()
        if remaining is not None and remaining <= seconds:
            await anyio.sleep(max(0.0, remaining))
            raise self._expired(last)
        await anyio.sleep(seconds)


def _changes(
    snapshot: Execution, steps: dict[str, str], cursor: LogCursor | None, asked: int
) -> list[ExecutionUpdate]:
    """Steps that started or changed state, then new log text, from one poll."""
    status = (snapshot.status or "").strip()
    updates = []
    for index, process in enumerate(snapshot.process_executions):
        key = str(process.id or process.identifier or process.name or index)
        state = (process.status or "").strip().upper()
        if steps.get(key) != state:
            steps[key] = state
            updates.append(ExecutionUpdate("process", snapshot, status, process=process))
    if cursor is not None:
        updates += _log_update(snapshot, cursor, snapshot.log or "", asked)
    return updates


def _log_update(
    execution: Execution, cursor: LogCursor, text: str, asked: int
) -> list[ExecutionUpdate]:
    new = cursor.feed(text, asked=asked)
    if not new:
        return []
    return [ExecutionUpdate("log", execution, (execution.status or "").strip(), text=new)]


def _with(update: ExecutionUpdate, execution: Execution) -> ExecutionUpdate:
    return ExecutionUpdate(
        update.kind,
        execution,
        update.status,
        previous_status=update.previous_status,
        process=update.process,
        text=update.text,
    )
