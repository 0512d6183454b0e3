"""``client.downloads``: bulk (zip) download jobs (docs/protocol.md §5.3, §8 rows 23-25; seed
002)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from urllib.parse import quote

import anyio.to_thread

from flowbio_async._errors import IntegrityError, TransferError
from flowbio_async._models._downloads import BulkDownload, BulkDownloadJob, DownloadResult
from flowbio_async._resources._base import Resource, parse_response, segment
from flowbio_async._resources._download_support import (
    Dest,
    ProgressArg,
    Target,
    destination,
    fetch_one,
)
from flowbio_async._transfers._bulk import raise_for_job, wait_for_job
from flowbio_async._transfers._extract import ArchiveLimits, extract_archive
from flowbio_async._transfers._paths import safe_filename

Ids = Iterable[str | int]
JobOrId = BulkDownloadJob | str


def _job_id(job: JobOrId) -> str:
    return job.id if isinstance(job, BulkDownloadJob) else str(job)


class DownloadsResource(Resource):
    """Bulk download jobs: create, status, wait, fetch (and optionally extract).

    Example:
        ```python
        job = await client.downloads.create(["789", "790"], name="my_dataset.zip")
        job = await client.downloads.wait(job)
        archive = await client.downloads.fetch(job, "downloads/")
        ```
    """

    #: Status path (docs/protocol.md §8 row 24: no source names it; this is the recommended
    #: default).
    status_path = "downloads/{job_id}/status"

    async def _create(self, path: str, body: dict[str, object]) -> BulkDownloadJob:
        response = await self._ctx.http.request("POST", path, json=body)
        return parse_response(BulkDownloadJob, response, f"POST {path}")

    async def create(
        self, data_ids: Ids, *, name: str | None = None, by_execution: bool | None = None
    ) -> BulkDownloadJob:
        """Start a job zipping the given data files (``POST /downloads``).

        Example:
            ```python
            job = await client.downloads.create(["789", "790", "791"], name="my_dataset.zip")
            ```
        """
        body: dict[str, object] = {"data_ids": [str(i) for i in data_ids]}
        if name is not None:
            body["name"] = name
        if by_execution is not None:
            body["by_execution"] = by_execution
        return await self._create("downloads", body)

    async def create_for_executions(
        self, execution_ids: Ids, *, name: str | None = None
    ) -> BulkDownloadJob:
        """Start a job zipping every output of the executions (``POST /downloads/executions``)."""
        body: dict[str, object] = {"execution_ids": [str(i) for i in execution_ids]}
        if name is not None:
            body["name"] = name
        return await self._create("downloads/executions", body)

    async def create_for_samples(
        self, sample_ids: Ids, *, name: str | None = None
    ) -> BulkDownloadJob:
        """Start a job zipping every file of the samples (``POST /downloads/samples``)."""
        body: dict[str, object] = {"sample_ids": [str(i) for i in sample_ids]}
        if name is not None:
            body["name"] = name
        return await self._create("downloads/samples", body)

    async def status(self, job: JobOrId) -> BulkDownloadJob:
        """The job's current status, progress (percent), ``download_url`` and ``error``."""
        path = self.status_path.format(job_id=segment(_job_id(job)))
        return await self._get_model(BulkDownloadJob, path)

    async def wait(
        self,
        job: JobOrId,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - overall deadline, documented
        progress: ProgressArg = None,
    ) -> BulkDownloadJob:
        """Poll with backoff until the archive is ready, showing the server's percentage.

        Raises:
            BulkDownloadFailedError: the job failed (the message is the server's ``error``).
            GoneError: the job expired.
            TimeoutError: ``timeout`` seconds passed first.

        Example:
            ```python
            job = await client.downloads.wait(job, timeout=600)
            ```
        """
        job_id = _job_id(job)
        with self._ctx.progress(progress) as reporter:
            return await wait_for_job(
                lambda: self.status(job_id), self._ctx.config, reporter, timeout=timeout
            )

    async def fetch(
        self,
        job: JobOrId,
        dest: Dest = ".",
        *,
        overwrite: bool = False,
        progress: ProgressArg = None,
    ) -> DownloadResult:
        """Download a completed job's archive (resumable, like any download).

        ``dest`` is a file path or a directory (the archive keeps the job's name there).
        An expired archive raises :class:`GoneError` (410).

        Example:
            ```python
            result = await client.downloads.fetch(job, "downloads/")
            ```
        """
        current = job if isinstance(job, BulkDownloadJob) and job.is_completed else None
        if current is None:
            current = await self.status(_job_id(job))
        raise_for_job(current)
        http = self._ctx.http
        path = f"downloads/{quote(current.id, safe='')}"
        urls = [current.download_url or f"{http.files_url}/{path}", f"{http.base_url}/{path}"]
        filename = safe_filename(current.name or f"flow-download-{current.id}.zip")
        target = Target(
            urls=tuple(dict.fromkeys(urls)),
            dest=destination(dest, filename),
            label=filename,
            key=f"archive-{current.id}",
            size=current.size,
        )
        return await fetch_one(self._ctx, target, overwrite=overwrite, progress=progress)

    async def download(
        self,
        data_ids: Ids,
        dest: Dest = ".",
        *,
        name: str | None = None,
        by_execution: bool | None = None,
        extract: bool = False,
        overwrite: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - overall deadline for the job
        progress: ProgressArg = None,
    ) -> BulkDownload:
        """Create a job, wait for it, fetch the archive and optionally extract it safely.

        With ``extract=True`` the archive is unpacked into ``dest`` (a directory) and then
        removed; entries with ``..`` or absolute names make it fail before anything is
        written (:class:`UnsafePathError`). Files already there with the same bytes are
        skipped (``BulkDownload.skipped``), so the same call can run again; a different
        file needs ``overwrite=True``. A failed extraction keeps the archive and names it.

        Example:
            ```python
            done = await client.downloads.download(["789", "790"], "dataset/", extract=True)
            ```
        """
        job = await self.create(data_ids, name=name, by_execution=by_execution)
        return await self.finish(
            job, dest, extract=extract, overwrite=overwrite, timeout=timeout, progress=progress
        )

    async def finish(
        self,
        job: JobOrId,
        dest: Dest = ".",
        *,
        extract: bool = False,
        overwrite: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - overall deadline for the job
        progress: ProgressArg = None,
    ) -> BulkDownload:
        """Wait for an existing job, fetch its archive and optionally extract it."""
        ready = await self.wait(job, timeout=timeout, progress=progress)
        target_dir = Path(dest)
        archive_dest: Dest = f"{os.fspath(target_dir)}/" if extract else dest
        archive = await self.fetch(ready, archive_dest, overwrite=overwrite, progress=progress)
        if not extract:
            return BulkDownload(job=ready, archive=archive)
        try:
            done = await anyio.to_thread.run_sync(
                partial(
                    extract_archive,
                    archive.path,
                    target_dir,
                    overwrite=overwrite,
                    limits=ArchiveLimits.of(self._ctx.config),
                )
            )
        except IntegrityError as exc:
            archive.path.unlink()  # damaged in transit: the next call fetches it again (#7)
            raise IntegrityError(f"{exc}; the damaged archive was removed") from exc
        except TransferError as exc:
            # Nothing was extracted: keep the archive (no new job, no second download) and
            # say where it is (#17 item 4).
            raise type(exc)(f"{exc}; the archive is kept at {archive.path}") from exc
        archive.path.unlink(missing_ok=True)  # extracted (files already there count): done
        return BulkDownload(job=ready, archive=archive, files=done.files, skipped=done.skipped)
