"""References one record makes to another: a bare id or an ``{id, name}`` object.

Flow's pages disagree, and Flow changed: ``/data/<id>`` gives ``sample`` and ``project`` as
``{id, name}`` objects (data.md), older servers and other payloads as bare ids; a sample's
``organism`` is an object on search and detail. Every reference field accepts both, so code
reads ``data.sample.id`` whichever the server sent (issue #15).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

from flowbio_async._models._base import FlowModel, OptionalId


def id_ref(value: Any) -> Any:
    """A bare id (``"3"`` or ``3``) becomes ``{"id": ...}``; objects and null pass through."""
    return {"id": value} if isinstance(value, str | int) and not isinstance(value, bool) else value


def retry_ref(value: Any) -> Any:
    """``retries``/``retried_by``: ``{id, identifier}``, a bare id, null, or the ``0`` older
    local servers sent for "none" (#15 item 10)."""
    if value == 0 and not isinstance(value, bool):
        return None
    return id_ref(value)


class NamedRef(FlowModel):
    """A record embedded as ``{id, name}``: a sample, project or organism."""

    id: OptionalId = None
    name: str | None = None


class FilesetRef(FlowModel):
    """The fileset a file belongs to or an execution ran on; ``organism`` on executions."""

    id: OptionalId = None
    name: str | None = None
    organism: Annotated[NamedRef | None, BeforeValidator(id_ref)] = None


class PairedRef(FlowModel):
    """The other file of a two-file fileset (``/data/<id>`` ``paired``): ``{id, filename}``."""

    id: OptionalId = None
    filename: str | None = None


class ExecutionRef(FlowModel):
    """Another execution: ``{id, identifier}`` (``retries``, ``retried_by``)."""

    id: OptionalId = None
    identifier: str | None = None


# Field types: a reference or null, from either wire shape.
OrganismLink = Annotated[NamedRef | None, BeforeValidator(id_ref)]
ProjectLink = Annotated[NamedRef | None, BeforeValidator(id_ref)]
SampleLink = Annotated[NamedRef | None, BeforeValidator(id_ref)]
FilesetLink = Annotated[FilesetRef | None, BeforeValidator(id_ref)]
PairedLink = Annotated[PairedRef | None, BeforeValidator(id_ref)]
RetryLink = Annotated[ExecutionRef | None, BeforeValidator(retry_ref)]
