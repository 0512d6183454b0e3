"""Global search results (``/search?q=``, docs/protocol.md §4.8)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from flowbio_async._models._base import FlowModel
from flowbio_async._models._data import Data
from flowbio_async._models._executions import Execution
from flowbio_async._models._projects import Project
from flowbio_async._models._samples import Sample


class SearchResults(FlowModel):
    """Matches across samples, projects, executions and data.

    Example:
        ```python
        results = await client.search("BRCA1")
        print(len(results.samples), "samples,", len(results.projects), "projects")
        ```
    """

    query: str | None = None
    total_count: int | None = None
    samples: list[Sample] = Field(default_factory=list)
    projects: list[Project] = Field(default_factory=list)
    executions: list[Execution] = Field(default_factory=list)
    data: list[Data] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("results"), dict):
            value = {**value, **value["results"]}
        return value
