"""Errors of running pipelines and waiting for executions (#11); part of the hierarchy of
``_errors`` (every class derives from :class:`~flowbio_async.FlowError`).

- :class:`InvalidRunError`: the client refused a run before sending it, naming every
  problem with the valid values (missing required param, value outside ``valid``, wrong
  type, unreadable data or sample, unknown Nextflow version).
- :class:`RunRefusedError` (400) and :class:`RunNotPermittedError` (403, ``User cannot run
  pipelines``): the server refused it.
- :class:`PipelineNotFoundError`: no pipeline or version of that name in the catalogue.
- :class:`ExecutionFailedError` / :class:`ExecutionCanceledError`: a run ended in ERROR or
  CANCELED; they carry the execution, its stderr and the log's tail.
- :class:`ExecutionTimeoutError`: ``wait`` gave up; the run itself goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowbio_async._errors import BadRequestError, FlowError, NotFoundError, PermissionDeniedError

if TYPE_CHECKING:
    from flowbio_async._models._executions import Execution


@dataclass(frozen=True)
class RunProblem:
    """One reason a run cannot start: the field (``params.genome``), what is wrong, and the
    values that would be accepted when there is a fixed set.

    Example:
        ```python
        for problem in exc.problems:
            print(problem.field, problem.message, problem.valid)
        ```
    """

    field: str
    message: str
    valid: tuple[Any, ...] = ()

    @property
    def text(self) -> str:
        """The message with the valid values, without the field."""
        allowed = f" (valid: {', '.join(str(v) for v in self.valid)})" if self.valid else ""
        return f"{self.message}{allowed}"

    def __str__(self) -> str:
        return f"{self.field}: {self.text}"


class InvalidRunError(FlowError, ValueError):
    """The client refused a run before sending it; ``problems`` lists every reason.

    Nothing was started: the schema was read and checked before any ``POST``.

    Example:
        ```python
        try:
            await client.pipelines.run(version, params={"genome": "hg99"})
        except InvalidRunError as exc:
            print(exc)  # every problem, one per line, with the valid values
        ```
    """

    def __init__(self, pipeline: str, problems: Sequence[RunProblem]) -> None:
        self.pipeline = pipeline
        self.problems = list(problems)
        count = len(self.problems)
        lines = "".join(f"\n  - {problem}" for problem in self.problems)
        super().__init__(f"cannot run {pipeline}: {count} problem{'s' * (count != 1)}{lines}")

    @property
    def details(self) -> list[dict[str, Any]]:
        """The problems as ``{"field", "message", "valid"}`` documents (CLI ``--json``)."""
        return [
            {"field": p.field, "message": p.text, "valid": list(p.valid)} for p in self.problems
        ]


class RunRefusedError(BadRequestError):
    """400 from ``POST /pipelines/versions/<id>/run``: ``{"error": {field: [messages]}}``."""

    @property
    def problems(self) -> list[RunProblem]:
        """The server's field errors as :class:`RunProblem` objects."""
        found = []
        for detail in self.details or []:
            if isinstance(detail, dict):
                found.append(RunProblem(str(detail.get("field", "")), str(detail.get("message"))))
        return found or [RunProblem("run", self.message)]


class RunNotPermittedError(PermissionDeniedError):
    """403: the user may not run pipelines (``can_run_pipelines`` is false), or the token is
    not authorised to; raised before any ``POST`` when ``/me`` already says so."""


class PipelineNotFoundError(NotFoundError):
    """No pipeline (or version) of that name; ``valid`` lists the names that exist.

    Raised by the client after reading the catalogue, so ``status_code`` is 404 by analogy.
    """

    def __init__(self, message: str, *, name: str, valid: Sequence[str]) -> None:
        super().__init__(message, status_code=404)
        self.name = name
        self.valid = list(valid)

    def __str__(self) -> str:
        return self.message


class ExecutionError(FlowError):
    """A run ended without success. ``execution`` is its final state; ``stderr`` and
    ``log_tail`` say why. Base of :class:`ExecutionFailedError` and
    :class:`ExecutionCanceledError`."""

    def __init__(self, execution: Execution, *, log_tail: str = "") -> None:
        self.execution = execution
        self.status = execution.status or ""
        self.stderr = execution.stderr or ""
        self.log_tail = log_tail
        self.failed_processes = [p for p in execution.process_executions if p.failed]
        super().__init__(self._describe())

    def _describe(self) -> str:
        run = self.execution
        what = " ".join(x for x in (run.pipeline_name, run.pipeline_version) if x)
        lines = [f"execution {run.id}{f' ({what})' if what else ''} ended with {self.status}"]
        for process in self.failed_processes:
            code = f" (exit {process.exit_code})" if process.exit_code is not None else ""
            lines.append(f"failed process: {process.name or process.process_name}{code}")
        if self.stderr.strip():
            lines.append("stderr:\n" + _indent(self.stderr))
        if self.log_tail.strip():
            lines.append("log tail:\n" + _indent(self.log_tail))
        return "\n".join(lines)


class ExecutionFailedError(ExecutionError):
    """The run ended in ``ERROR``."""


class ExecutionCanceledError(ExecutionError):
    """The run was ``CANCELED``."""


class ExecutionTimeoutError(FlowError, TimeoutError):
    """``wait``/``watch`` gave up after ``timeout`` seconds; the run itself goes on.

    ``execution`` is the freshest state known: the last answered poll, else the
    :class:`Execution` given to ``wait``/``watch``; ``None`` only when they were given an id
    and no read was answered before the deadline.
    """

    def __init__(self, execution: Execution | None, timeout: float) -> None:
        self.execution = execution
        self.timeout = timeout
        status = execution.status if execution is not None else None
        where = f"execution {execution.id}" if execution is not None else "the execution"
        super().__init__(f"{where} still running after {timeout:g} s (status {status!r})")


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.rstrip().splitlines())
