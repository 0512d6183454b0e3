"""What watching an execution yields (#11): updates and log chunks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from flowbio_async._models._executions import Execution, ProcessExecution

UpdateKind = Literal["status", "process", "log"]


@dataclass(frozen=True)
class ExecutionUpdate:
    """One change seen while watching an execution.

    ``kind`` is ``"status"`` (the execution's status changed; the first update reports the
    status found), ``"process"`` (a step started or finished: ``process``) or ``"log"`` (new
    log text: ``text``, never text sent before). ``execution`` is the latest state seen; on
    the final status update it is the full detail, outputs included.

    Example:
        ```python
        async for update in client.executions.watch("7"):
            if update.kind == "log":
                print(update.text, end="")
            elif update.kind == "process" and update.process is not None:
                print(update.process.name, update.process.status)
        ```
    """

    kind: UpdateKind
    execution: Execution
    status: str
    previous_status: str | None = None
    process: ProcessExecution | None = None
    text: str = ""

    @property
    def is_final(self) -> bool:
        """True for the last update: the status update with a terminal status."""
        return self.kind == "status" and self.execution.is_terminal


@dataclass(frozen=True)
class ExecutionLog:
    """Log text of an execution from byte ``offset``; ask again from ``next_offset``.

    Example:
        ```python
        chunk = await client.executions.get_log("7")
        print(chunk.text)
        more = await client.executions.get_log("7", offset=chunk.next_offset)
        ```
    """

    text: str
    offset: int
    next_offset: int
    status: str | None = None

    def __str__(self) -> str:
        return self.text
