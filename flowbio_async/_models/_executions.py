"""Executions (pipeline runs) and their output data (docs/protocol.md §4.7)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from flowbio_async._models._base import FlowModel, Id, OptionalId, Timestamp
from flowbio_async._models._data import Data
from flowbio_async._models._refs import FilesetLink, ProjectLink, RetryLink, SampleLink

TERMINAL_STATUSES = frozenset({"OK", "ERROR", "CANCELED", "COMPLETED", "FAILED", "CANCELLED"})
"""Finished states, compared case-insensitively (docs/protocol.md §8 row 27)."""
SUCCEEDED_STATUSES = frozenset({"OK", "COMPLETED"})
FAILED_STATUSES = frozenset({"ERROR", "FAILED"})
CANCELED_STATUSES = frozenset({"CANCELED", "CANCELLED"})
PROCESS_FINISHED = frozenset({"COMPLETED", "FAILED", "ABORTED", "CACHED", "ERROR", "OK"})
"""Finished states of one process execution (Nextflow's task states)."""


def _status_in(status: str | None, statuses: frozenset[str]) -> bool:
    """Statuses compare case-insensitively, surrounding spaces ignored
    (docs/protocol.md §8 row 27)."""
    return (status or "").strip().upper() in statuses


def gather_outputs(raw: dict[str, Any]) -> list[Any]:
    """Outputs from whichever of ``outputs``, ``downstream_data``,
    ``process_executions[].downstream_data`` and ``output_data`` exist (docs/protocol.md §8 row 26),
    by id once.
    """
    found: list[Any] = []
    sources: list[Any] = [raw.get("outputs"), raw.get("downstream_data")]
    for process in raw.get("process_executions") or []:
        if isinstance(process, dict):
            sources.append(process.get("downstream_data"))
    sources.append(raw.get("output_data"))
    seen: set[str] = set()
    for source in sources:
        for item in source or []:
            if not isinstance(item, dict) or "id" not in item:
                continue
            key = str(item["id"])
            if key not in seen:
                seen.add(key)
                found.append(item)
    return found


class ProcessExecution(FlowModel):
    """One step (Nextflow process) of an execution; ``status`` RUNNING, COMPLETED, FAILED...

    Example:
        ```python
        execution = await client.executions.get("7")
        for process in execution.process_executions:
            print(process.name, process.status, process.exit_code)
        ```
    """

    id: OptionalId = None
    identifier: str | None = None
    name: str | None = None
    process_name: str | None = None
    status: str | None = None
    started: Timestamp = None
    finished: Timestamp = None
    exit_code: int | None = None
    stdout: str | None = None
    stderr: str | None = None
    bash: str | None = None
    downstream_data: list[Data] = Field(default_factory=list)

    @property
    def is_finished(self) -> bool:
        """True once the step stopped (completed, failed, aborted or cached)."""
        return (self.status or "").strip().upper() in PROCESS_FINISHED

    @property
    def failed(self) -> bool:
        """True when the step failed."""
        return (self.status or "").strip().upper() in {"FAILED", "ERROR"}


class Execution(FlowModel):
    """A pipeline execution; ``outputs`` merges every output field the server used.

    Example:
        ```python
        execution = await client.executions.get("7")
        if execution.is_terminal:
            for data in execution.outputs:
                print(data.filename, data.size)
        ```
    """

    id: Id
    identifier: str | None = None
    name: str | None = None
    status: str | None = None
    pipeline_name: str | None = None
    pipeline_version: str | None = None
    created: Timestamp = None
    started: Timestamp = None
    finished: Timestamp = None
    sample_name: str | None = None
    owner_name: str | None = None
    sample: SampleLink = None
    project: ProjectLink = None
    fileset: FilesetLink = None
    retries: RetryLink = None
    """The execution this one retries (``{id, identifier}``; samples.md, pipelines.md)."""
    retried_by: RetryLink = None
    """The execution that retried this one."""
    outputs: list[Data] = Field(default_factory=list)
    # Detail fields (``GET /executions/<id>``, flow-skills endpoints/executions.md).
    uuid: str | None = None
    nextflow_version: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    log: str | None = None
    command: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    data_params: dict[str, Any] = Field(default_factory=dict)
    csv_params: dict[str, Any] = Field(default_factory=dict)
    pipeline: dict[str, Any] | None = None
    process_executions: list[ProcessExecution] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _collect_outputs(cls, value: Any) -> Any:
        if isinstance(value, dict):
            value = {**value, "outputs": gather_outputs(value)}
            version = value.get("pipeline_version")
            if isinstance(version, dict):  # some payloads nest {id, name}
                value["pipeline_version"] = version.get("name")
            nested = value.get("pipeline")
            if isinstance(nested, dict) and isinstance(nested.get("pipeline"), dict):
                # The detail nests the version under ``pipeline``: {id, name, pipeline, schema}.
                value.setdefault("pipeline_version", nested.get("name"))
                value.setdefault("pipeline_name", nested["pipeline"].get("name"))
        return value

    @property
    def is_terminal(self) -> bool:
        """True once the execution finished (OK, ERROR, CANCELED or their aliases)."""
        return _status_in(self.status, TERMINAL_STATUSES)

    @property
    def succeeded(self) -> bool:
        """True only for a finished, successful run (``OK``); never for ERROR or CANCELED."""
        return _status_in(self.status, SUCCEEDED_STATUSES)

    @property
    def failed(self) -> bool:
        """True for a run that ended in ``ERROR``."""
        return _status_in(self.status, FAILED_STATUSES)

    @property
    def canceled(self) -> bool:
        """True for a run that was ``CANCELED``."""
        return _status_in(self.status, CANCELED_STATUSES)
