"""Project operations: downloads (seed 002 "Batch Download Projects", "Organize Downloads")."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from tempfile import mkdtemp
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from flowbio_async._errors import FlowError
from flowbio_async._models._data import Data
from flowbio_async._models._downloads import ProjectDownload
from flowbio_async._resources._base import Resource, segment
from flowbio_async._resources._bulk_layout import Placement, deduplicated, place_extracted
from flowbio_async._resources._download_support import (
    Dest,
    DownloadLog,
    Include,
    ProgressArg,
    fetch_data_files,
    matches,
    sample_files,
    sample_folders,
    sample_origin,
)
from flowbio_async._resources._downloads import DownloadsResource
from flowbio_async._tasks import task_group
from flowbio_async._transfers._many import call_concurrency
from flowbio_async._transfers._paths import folder_name, safe_filename

if TYPE_CHECKING:
    from flowbio_async._models._projects import Project
    from flowbio_async._models._samples import Sample
    from flowbio_async._pagination import AsyncPager

BULK_THRESHOLD = 100
"""Seed 002: "if len(data_ids) > 100: use bulk download for large projects"."""


class ProjectDownloads(Resource):
    """Project downloads (mixin of :class:`ProjectResource`)."""

    if TYPE_CHECKING:  # provided by ProjectReads in the composed ProjectResource

        async def get(self, project_id: str | int) -> Project: ...

        def get_samples(
            self, project_id: str | int, *, filter: str | None = None, page_size: int | None = None
        ) -> AsyncPager[Sample]: ...

    async def download(
        self,
        project_id: str | int,
        dest: Dest = ".",
        *,
        include: Include = None,
        bulk_threshold: int = BULK_THRESHOLD,
        overwrite: bool = False,
        progress: ProgressArg = None,
        log: Dest | None = None,
        fail_fast: bool = False,
        max_concurrency: int | None = None,
    ) -> ProjectDownload:
        """Download every sample file of a project into ``dest/<project name>/``.

        Up to ``bulk_threshold`` files are fetched one by one, concurrently, laid out as
        ``samples/<sample name>/<file>``. Larger projects use one bulk job instead (seed
        002): the server zips the files, the archive is fetched with resume, extracted
        safely and each file moved to the same place the per-file path would give it. An
        archive entry that matches no file unambiguously lands in ``unsorted/`` (listed in
        ``done.unsorted``); files the archive lacked are listed in ``done.missing``.
        ``max_concurrency`` caps this call's transfers and lookups at once (default and
        ceiling: the client-wide ``config.max_concurrency``).

        Example:
            ```python
            done = await client.projects.download("5", "downloads")
            print(done.folder, len(done.files))
            ```
        """
        limit = call_concurrency(max_concurrency, self._ctx.config.max_concurrency)
        project = await self.get(project_id)
        folder = Path(dest) / folder_name(project.name or "", project.id)
        samples = [sample async for sample in self.get_samples(project.id)]
        folders = sample_folders((sample.id, sample.name) for sample in samples)
        planned: list[tuple[Data, Path]] = []
        origins: dict[str, dict[str, Any]] = {}
        for sample in samples:
            sample_dir = folder / "samples" / folders[sample.id]
            for data in await sample_files(self._ctx, sample.id):
                # A file traced to two samples (one execution over both) goes once, with the
                # first of them.
                if matches(data, include) and data.id not in origins:
                    planned.append((data, sample_dir / safe_filename(data.filename or data.id)))
                    origins[data.id] = sample_origin(sample)
        planned = deduplicated(planned)
        sample_dirs = {s.id: folder / "samples" / folders[s.id] for s in samples}
        if len(planned) > bulk_threshold:
            done = await self._bulk(
                folder,
                planned,
                origins,
                overwrite=overwrite,
                progress=progress,
                log=log,
                limit=limit,
            )
            return replace(done, sample_folders=sample_dirs)
        places = {data.id: path for data, path in planned}
        report = await fetch_data_files(
            self._ctx,
            [data for data, _ in planned],
            lambda data: places[data.id],
            overwrite=overwrite,
            progress=progress,
            log=log,
            fail_fast=fail_fast,
            label=f"project {project.name or project.id}",
            root=Path(dest),
            origins=origins,
            concurrency=limit,
        )
        return ProjectDownload(folder=folder, report=report, sample_folders=sample_dirs)

    async def _bulk(
        self,
        folder: Path,
        planned: list[tuple[Data, Path]],
        origins: Mapping[str, Mapping[str, Any]],
        *,
        overwrite: bool,
        progress: ProgressArg,
        log: Dest | None,
        limit: int,
    ) -> ProjectDownload:
        """One bulk job, extracted privately, then each file moved to its planned path.

        The archive is fetched and unpacked in a hidden folder inside ``folder`` (same file
        system: moves are renames) that is removed afterwards, also on failure or
        cancellation.
        """
        planned = await self._with_md5s(planned, limit)
        downloads = DownloadsResource(self._ctx)
        job = await downloads.create([data.id for data, _ in planned], name=f"{folder.name}.zip")
        await anyio.Path(folder).mkdir(parents=True, exist_ok=True)
        scratch = Path(
            await anyio.to_thread.run_sync(partial(mkdtemp, prefix=".bulk-", dir=folder))
        )
        try:
            bulk = await downloads.finish(
                job, scratch, extract=True, overwrite=True, progress=progress
            )
            placement = await anyio.to_thread.run_sync(
                partial(place_extracted, scratch, bulk.files, planned, folder, overwrite=overwrite)
            )
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(partial(shutil.rmtree, scratch, ignore_errors=True))
        if log is not None:
            await _log_placement(DownloadLog(log), placement, origins)
        return ProjectDownload(
            folder=folder,
            bulk=replace(bulk, files=placement.placed + placement.unsorted),
            unsorted=placement.unsorted,
            missing=placement.missing,
        )

    async def _with_md5s(
        self, planned: list[tuple[Data, Path]], limit: int
    ) -> list[tuple[Data, Path]]:
        """Ask ``/data/<id>`` for the md5 of files whose name is not unique (docs/protocol.md §4.6).

        Listings often omit the md5; a bulk archive may rename clashing names, and then
        only the content tells which sample a file belongs to (``_bulk_layout``).
        """
        counts = Counter(data.filename for data, _ in planned)
        needed = [i for i, (data, _) in enumerate(planned) if counts[data.filename] > 1]
        result = list(planned)
        limiter = anyio.CapacityLimiter(limit)  # the call's cap (`max_concurrency=`)

        async def detail(index: int) -> None:
            data, path = planned[index]
            if data.md5:
                return
            try:
                async with limiter:
                    full = await self._get_model(Data, f"data/{segment(data.id)}")
            except FlowError:
                return  # best effort: without it the file may only end up in unsorted/
            result[index] = (data.model_copy(update={"md5": full.md5}), path)

        async with task_group() as group:
            for index in needed:
                group.start_soon(detail, index)
        return result


async def _log_placement(
    log: DownloadLog, placement: Placement, origins: Mapping[str, Mapping[str, Any]]
) -> None:
    """One JSON line per file, like the per-file path (seed 002 "Log Downloads").

    Each line names the sample the file came from (``sample_id``, ``sample_name``), as the
    per-file path does; an ``unsorted`` entry matched no file, so it names none.
    """
    now = datetime.now(UTC).isoformat()
    skipped = set(placement.skipped)
    for data, path in placement.files:
        size = (await anyio.Path(path).stat()).st_size
        record = {"file_id": data.id, "filename": data.filename, **origins.get(data.id, {})}
        status = "skipped" if path in skipped else "downloaded"
        record.update(path=str(path), size=size, md5=data.md5, status=status, timestamp=now)
        await log.write(record)
    for path in placement.unsorted:
        await log.write({"path": str(path), "status": "unsorted", "timestamp": now})
    for data in placement.missing:
        missing = {"file_id": data.id, "filename": data.filename, **origins.get(data.id, {})}
        await log.write({**missing, "status": "missing", "timestamp": now})
