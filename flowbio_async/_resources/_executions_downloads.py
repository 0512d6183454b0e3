"""Execution operations: downloads (outputs, single result files; docs/protocol.md §4.7, §5.2)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import quote

from flowbio_async._models._data import Data
from flowbio_async._models._downloads import DownloadReport, DownloadResult
from flowbio_async._resources._base import Resource, segment
from flowbio_async._resources._download_support import (
    Dest,
    Include,
    ProgressArg,
    Target,
    destination,
    fetch_data_files,
    fetch_one,
    matches,
    output_path,
)
from flowbio_async._transfers._many import call_concurrency
from flowbio_async._transfers._paths import safe_join, safe_relative_path

if TYPE_CHECKING:
    from flowbio_async._models._executions import Execution


class ExecutionDownloads(Resource):
    """Execution downloads (mixin of :class:`ExecutionResource`)."""

    if TYPE_CHECKING:  # provided by ExecutionReads in the composed ExecutionResource

        async def get(self, execution_id: str | int) -> Execution: ...

    async def download_outputs(
        self,
        execution_id: str | int,
        dest_dir: Dest = ".",
        *,
        include: Include = None,
        overwrite: bool = False,
        progress: ProgressArg = None,
        log: Dest | None = None,
        fail_fast: bool = False,
        max_concurrency: int | None = None,
    ) -> DownloadReport[Data]:
        """Download an execution's output files under ``dest_dir``, keeping relative paths.

        ``include`` keeps only some outputs: glob patterns matched against the relative path
        and the file name (``"*.tsv"``, ``"results/counts/*"``) or a ``Data -> bool``
        predicate. Paths from the server can never escape ``dest_dir``. At most
        ``max_concurrency`` files download at once (default and ceiling: the client-wide
        ``config.max_concurrency``).

        Example:
            ```python
            report = await client.executions.download_outputs(
                "7", "downloads/executions/7", include=["*.html", "results/counts/*"]
            )
            print([str(item.value.path) for item in report.done])
            ```
        """
        limit = call_concurrency(max_concurrency, self._ctx.config.max_concurrency)
        execution = await self.get(execution_id)
        outputs = [data for data in execution.outputs if matches(data, include)]
        root = Path(dest_dir)
        return await fetch_data_files(
            self._ctx,
            outputs,
            lambda data: safe_join(root, output_path(data)),
            overwrite=overwrite,
            progress=progress,
            log=log,
            fail_fast=fail_fast,
            label=f"execution {execution.id}",
            root=root,
            origins={data.id: {"execution_id": execution.id} for data in outputs},
            concurrency=limit,
        )

    async def download_result(
        self,
        execution_id: str | int,
        path: str,
        dest: Dest = ".",
        *,
        overwrite: bool = False,
        progress: ProgressArg = None,
    ) -> DownloadResult:
        """Download one result file by its relative path (``GET /executions/<id>/<path>``).

        ``dest`` is a file path, or a directory that receives the file under its own name.

        Example:
            ```python
            await client.executions.download_result("7", "multiqc_report.html", "reports/")
            ```
        """
        relative = safe_relative_path(path)
        http = self._ctx.http
        url = f"{http.base_url}/executions/{segment(execution_id)}/{quote(str(relative))}"
        target = Target(
            urls=(url,),
            dest=destination(dest, PurePosixPath(relative).name),
            label=str(relative),
            key=f"{execution_id}:{relative}",
            meta={"execution": str(execution_id), "path": str(relative)},
        )
        return await fetch_one(self._ctx, target, overwrite=overwrite, progress=progress)
