"""Data files and data types (docs/protocol.md §4.6)."""

from __future__ import annotations

from typing import Any

from flowbio_async._models._base import FlowModel, Id, Timestamp
from flowbio_async._models._refs import FilesetLink, PairedLink, ProjectLink, SampleLink


class DataType(FlowModel):
    """A data type identifier accepted by uploads (``/data/types``)."""

    identifier: str
    name: str | None = None
    description: str | None = ""
    data_count: int | None = None


class Data(FlowModel):
    """A data file. ``md5`` is optional (many servers omit it); ``download_url`` is filled in
    by the client when the server does not send one (docs/protocol.md §8 row 19). ``sample`` and
    ``project`` read ``{id, name}`` objects and bare ids alike (#15).

    Example:
        ```python
        data = await client.data.get("42")
        print(data.filename, data.size, data.download_url)
        ```
    """

    id: Id
    filename: str | None = None
    size: int | None = None
    md5: str | None = None
    download_url: str | None = None
    filetype: str | None = None
    created: Timestamp = None
    category: int | None = None
    data_type: dict[str, Any] | str | None = None
    is_directory: bool | None = None
    is_binary: bool | None = None
    private: bool | None = None
    sample: SampleLink = None
    project: ProjectLink = None
    fileset: FilesetLink = None
    paired: PairedLink = None
    """The other file of a two-file fileset (paired-end reads), on ``/data/<id>``."""
