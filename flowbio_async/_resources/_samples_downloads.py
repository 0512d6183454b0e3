"""Sample operations: downloads (seed 002 "Download All Sample Data", "Organize Downloads")."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flowbio_async._models._data import Data
from flowbio_async._models._downloads import DownloadReport
from flowbio_async._resources._base import Resource
from flowbio_async._resources._download_support import (
    Dest,
    Include,
    ProgressArg,
    fetch_data_files,
    matches,
    sample_files,
)
from flowbio_async._transfers._paths import folder_name, safe_filename

if TYPE_CHECKING:
    from flowbio_async._models._samples import Sample


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
    ) -> DownloadReport[Data]:
        """Download every file of a sample into ``dest/samples/<sample name>/``.

        Raw reads and pipeline outputs attached to the sample are fetched concurrently;
        ``include`` filters them (glob patterns or a predicate). The sample name becomes a
        safe folder name (separators replaced), as in seed 002's "Organize Downloads".

        Example:
            ```python
            report = await client.samples.download("123", "downloads")
            print(len(report.done), "files in downloads/samples/<name>/")
            ```
        """
        sample = await self.get(sample_id)
        folder = Path(dest) / "samples" / folder_name(sample.name or "", sample.id)
        files = [
            data for data in await sample_files(self._ctx, sample.id) if matches(data, include)
        ]
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
        )
