"""Executions (pipeline runs) and their output data (contract §4.7)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from flowbio_async._models._base import FlowModel, Id, Timestamp
from flowbio_async._models._data import Data
from flowbio_async._models._refs import FilesetLink, ProjectLink, RetryLink, SampleLink

TERMINAL_STATUSES = frozenset({"OK", "ERROR", "CANCELED", "COMPLETED", "FAILED", "CANCELLED"})
"""Finished states, compared case-insensitively (contract §8 row 27)."""


def gather_outputs(raw: dict[str, Any]) -> list[Any]:
    """Outputs from whichever of ``outputs``, ``downstream_data``,
    ``process_executions[].downstream_data`` and ``output_data`` exist (§8 row 26), by id once.
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

    @model_validator(mode="before")
    @classmethod
    def _collect_outputs(cls, value: Any) -> Any:
        if isinstance(value, dict):
            value = {**value, "outputs": gather_outputs(value)}
            version = value.get("pipeline_version")
            if isinstance(version, dict):  # some payloads nest {id, name}
                value["pipeline_version"] = version.get("name")
        return value

    @property
    def is_terminal(self) -> bool:
        """True once the execution finished (OK, ERROR, CANCELED or their aliases)."""
        return (self.status or "").strip().upper() in TERMINAL_STATUSES
