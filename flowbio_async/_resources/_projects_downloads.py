"""Project operations: downloads (seed 002 "Batch Download Projects", "Organize Downloads")."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flowbio_async._models._data import Data
from flowbio_async._models._downloads import ProjectDownload
from flowbio_async._resources._base import Resource
from flowbio_async._resources._download_support import (
    Dest,
    Include,
    ProgressArg,
    fetch_data_files,
    matches,
    sample_files,
)
from flowbio_async._resources._downloads import DownloadsResource
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
    ) -> ProjectDownload:
        """Download every sample file of a project into ``dest/<project name>/``.

        Up to ``bulk_threshold`` files are fetched one by one, concurrently, laid out as
        ``samples/<sample name>/<file>``. Larger projects use one bulk job instead (seed
        002): the server zips the files, the archive is fetched with resume and extracted
        safely into the project folder, in the server's archive layout.

        Example:
            ```python
            done = await client.projects.download("5", "downloads")
            print(done.folder, len(done.files))
            ```
        """
        project = await self.get(project_id)
        folder = Path(dest) / folder_name(project.name or "", project.id)
        planned: list[tuple[Data, Path]] = []
        async for sample in self.get_samples(project.id):
            sample_dir = folder / "samples" / folder_name(sample.name or "", sample.id)
            for data in await sample_files(self._ctx, sample.id):
                if matches(data, include):
                    planned.append((data, sample_dir / safe_filename(data.filename or data.id)))
        if len(planned) > bulk_threshold:
            downloads = DownloadsResource(self._ctx)
            job = await downloads.create(
                [data.id for data, _ in planned], name=f"{folder.name}.zip"
            )
            bulk = await downloads.finish(
                job, folder, extract=True, overwrite=overwrite, progress=progress
            )
            return ProjectDownload(folder=folder, bulk=bulk)
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
        )
        return ProjectDownload(folder=folder, report=report)
