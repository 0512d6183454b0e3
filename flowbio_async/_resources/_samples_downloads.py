"""Sample operations: downloads (seed 002 "Download All Sample Data", "Organize Downloads")."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flowbio_async._errors import NotFoundError
from flowbio_async._models._data import Data
from flowbio_async._models._downloads import DownloadReport
from flowbio_async._models._samples import Sample
from flowbio_async._pagination import AsyncPager
from flowbio_async._resources._base import Resource, segment
from flowbio_async._resources._download_support import (
    Dest,
    Include,
    ProgressArg,
    fetch_data_files,
    matches,
    sample_files,
    sample_folders,
    sample_origin,
)
from flowbio_async._transfers._many import call_concurrency
from flowbio_async._transfers._paths import safe_filename


class SampleDownloads(Resource):
    """Sample downloads (mixin of :class:`SampleResource`)."""

    if TYPE_CHECKING:  # provided by SampleReads in the composed SampleResource

        async def get(self, sample_id: str | int) -> Sample: ...

    async def download(
        self,
        sample_id: str | int,
        dest: Dest = ".",
        *,
        include: Include = None,
        overwrite: bool = False,
        progress: ProgressArg = None,
        log: Dest | None = None,
        fail_fast: bool = False,
        max_concurrency: int | None = None,
    ) -> DownloadReport[Data]:
        """Download every file of a sample into ``dest/samples/<sample name>/``.

        Raw reads and pipeline outputs attached to the sample are fetched concurrently;
        ``include`` filters them (glob patterns or a predicate). The sample name becomes a
        safe folder name (separators replaced), as in seed 002's "Organize Downloads"; when
        another sample of its project has the same name, every one but the oldest is
        ``<name>__<id>``, as ``projects.download`` lays them out. At most ``max_concurrency``
        files download at once (default and ceiling: the client-wide
        ``config.max_concurrency``).

        Example:
            ```python
            report = await client.samples.download("123", "downloads")
            print(len(report.done), "files in downloads/samples/<name>/")
            ```
        """
        limit = call_concurrency(max_concurrency, self._ctx.config.max_concurrency)
        sample = await self.get(sample_id)
        folder = Path(dest) / "samples" / await self._folder(sample)
        files = [
            data for data in await sample_files(self._ctx, sample.id) if matches(data, include)
        ]
        origin = sample_origin(sample)
        return await fetch_data_files(
            self._ctx,
            files,
            lambda data: folder / safe_filename(data.filename or data.id),
            overwrite=overwrite,
            progress=progress,
            log=log,
            fail_fast=fail_fast,
            label=f"sample {sample.name or sample.id}",
            root=Path(dest),
            origins={data.id: origin for data in files},
            concurrency=limit,
        )

    async def _folder(self, sample: Sample) -> str:
        """The sample's folder as its project's layout names it (``<name>__<id>`` on a clash).

        The project's samples are listed so that downloading one sample and downloading its
        project put the sample in the same folder (docs/downloading.md "Folder names").
        """
        if sample.project is None or sample.project.id is None:
            return sample_folders([(sample.id, sample.name)])[sample.id]
        path = f"projects/{segment(sample.project.id)}/samples"
        pager = AsyncPager(self._ctx.http, path, "samples", Sample.model_validate, page_size=100)
        try:
            siblings = [(s.id, s.name) async for s in pager]
        except NotFoundError:
            siblings = []  # a project we cannot list: the sample alone decides
        return sample_folders([*siblings, (sample.id, sample.name)])[sample.id]
