"""Download results, many-file reports and bulk download jobs (docs/protocol.md §5, issue #4)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import Field, model_validator

from flowbio_async._models._base import FlowModel, Id, OptionalId, Timestamp
from flowbio_async._transfers._many import ItemResult

if TYPE_CHECKING:
    from flowbio_async._models._data import Data

K = TypeVar("K")

DownloadStatus = Literal["downloaded", "skipped"]


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """One file on disk after a download.

    ``status`` is ``"skipped"`` when a complete copy was already there (same size, and same
    md5 when the server published one). ``resumed_from`` counts bytes a previous attempt had
    already saved in the part file.

    Example:
        ```python
        result = await client.data.download("42", "downloads/")
        print(result.path, result.size, result.md5, result.status)
        ```
    """

    path: Path
    size: int
    md5: str | None
    status: DownloadStatus = "downloaded"
    resumed_from: int = 0

    @property
    def skipped(self) -> bool:
        """True when the file was already complete and nothing was transferred."""
        return self.status == "skipped"


@dataclass(frozen=True)
class DownloadReport(Generic[K]):
    """Per-item outcome of a many-file download, in input order.

    Example:
        ```python
        report = await client.data.download_many(["1", "2", "3"], "downloads/")
        print(len(report.done), "downloaded,", len(report.skipped), "already there")
        for item in report.failed:
            print(item.item, "failed:", item.error)
        ```
    """

    items: Sequence[ItemResult[K, DownloadResult]]

    def __iter__(self) -> Iterator[ItemResult[K, DownloadResult]]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def done(self) -> list[ItemResult[K, DownloadResult]]:
        """Items transferred by this call."""
        return [i for i in self.items if i.value is not None and not i.value.skipped]

    @property
    def skipped(self) -> list[ItemResult[K, DownloadResult]]:
        """Items already complete on disk."""
        return [i for i in self.items if i.value is not None and i.value.skipped]

    @property
    def failed(self) -> list[ItemResult[K, DownloadResult]]:
        """Items that failed, each with its typed error."""
        return [i for i in self.items if i.error is not None]

    @property
    def ok(self) -> bool:
        """True when no item failed."""
        return not self.failed

    def raise_for_failures(self) -> None:
        """Raise the first item's error if any item failed."""
        for item in self.failed:
            assert item.error is not None
            raise item.error


_IN_PROGRESS = frozenset({"pending", "queued", "processing", "running", "started", "in_progress"})
_COMPLETED = frozenset({"completed", "complete", "done", "finished", "ok", "success"})


class BulkDownloadJob(FlowModel):
    """A bulk (zip) download job (docs/protocol.md §5.3, §8 row 24).

    ``status`` is lower-cased and derived from the timestamps when the server omits it
    (finished → ``completed``, started → ``processing``, else ``pending``).

    Example:
        ```python
        job = await client.downloads.create(["1", "2"], name="bundle.zip")
        job = await client.downloads.wait(job.id)
        print(job.status, job.progress, job.download_url)
        ```
    """

    id: Id
    status: str = "pending"
    progress: float | None = None
    name: str | None = None
    created: Timestamp = None
    started: Timestamp = None
    finished: Timestamp = None
    expires: Timestamp = None
    by_execution: bool | None = None
    data: list[Id] = Field(default_factory=list)
    user: OptionalId = None
    download_url: str | None = None
    size: int | None = None
    error: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _derive_status(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        status = value.get("status")
        if not status:
            if value.get("finished"):
                status = "completed"
            elif value.get("started"):
                status = "processing"
            else:
                status = "pending"
        return {**value, "status": str(status).strip().lower()}

    @property
    def is_completed(self) -> bool:
        """The archive is ready."""
        return self.status in _COMPLETED

    @property
    def is_failed(self) -> bool:
        """The job ended in failure (``error`` says why); unknown states count as failure
        (seed 002: "anything else is a failure")."""
        return not (self.is_pending or self.is_completed or self.is_expired)

    @property
    def is_expired(self) -> bool:
        """The archive expired and can no longer be fetched."""
        return self.status == "expired"

    @property
    def is_pending(self) -> bool:
        """Still queued or being built."""
        return self.status in _IN_PROGRESS


@dataclass(frozen=True)
class BulkDownload:
    """A finished bulk download: the job, the archive on disk and, if extracted, its files.

    After a successful extraction the archive itself is deleted; ``archive`` still
    describes it. ``files`` is every file of the archive now in the destination, ``skipped``
    those that were already there with the same bytes and were left untouched (#17).

    Example:
        ```python
        done = await client.downloads.download(["1", "2"], "out/", extract=True)
        print([str(path) for path in done.files], len(done.skipped), "already there")
        ```
    """

    job: BulkDownloadJob
    archive: DownloadResult
    files: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class ProjectDownload:
    """What ``client.projects.download`` did: per-file downloads, or one bulk job.

    Both end with the same layout (``samples/<sample name>/<file>``, ``<name>__<id>`` when
    two samples share a name); a bulk job may also leave ``unsorted`` entries and
    ``missing`` files, reported here.

    Example:
        ```python
        done = await client.projects.download("5", "downloads")
        print(done.files)
        ```
    """

    folder: Path
    report: DownloadReport[Data] | None = None
    bulk: BulkDownload | None = None
    #: Bulk only: archive entries kept in ``<folder>/unsorted/`` (no unambiguous match, or a
    #: different file already at their place without ``overwrite``).
    unsorted: list[Path] = field(default_factory=list)
    #: Bulk only: planned files the archive did not contain.
    missing: list[Data] = field(default_factory=list)
    #: Where each sample's files went, by sample id: ``<folder>/samples/<name>``, or
    #: ``<name>__<id>`` for every sample but the oldest of one name (#17).
    sample_folders: dict[str, Path] = field(default_factory=dict)

    @property
    def files(self) -> list[Path]:
        """Every file now on disk for the project."""
        if self.bulk is not None:
            return list(self.bulk.files)
        assert self.report is not None
        return [item.value.path for item in self.report if item.value is not None]
