"""Projects (docs/protocol.md §4.4)."""

from __future__ import annotations

from typing import Any

from flowbio_async._models._base import FlowModel, Id, Timestamp


class Project(FlowModel):
    """A project: from ``/projects/owned``, ``/projects/search`` or ``/projects/<id>``.

    Example:
        ```python
        async for project in client.samples.get_owned_projects():
            print(f"{project.id}: {project.name}")
        ```
    """

    id: Id
    name: str
    description: str | None = ""
    created: Timestamp = None
    private: bool | None = None
    sample_count: int | None = None
    execution_count: int | None = None
    owner_name: str | None = None
    owner: dict[str, Any] | None = None
