"""Execution operations: reads."""

from __future__ import annotations

from flowbio_async._models._data import Data
from flowbio_async._models._executions import Execution
from flowbio_async._pagination import AsyncPager
from flowbio_async._resources._base import Resource, build_params, segment
from flowbio_async._types import DateLike


class ExecutionReads(Resource):
    """Execution reads (mixin of :class:`ExecutionResource`)."""

    async def get(self, execution_id: str | int) -> Execution:
        """One execution; ``outputs`` gathers output data from every field the server used.

        Example:
            ```python
            execution = await client.executions.get("7")
            print(execution.status, [d.filename for d in execution.outputs])
            ```
        """
        execution = await self._get_model(Execution, f"executions/{segment(execution_id)}")
        for data in execution.outputs:
            self._with_download_url(data)
        return execution

    async def get_outputs(self, execution_id: str | int) -> list[Data]:
        """The output data of one execution (docs/protocol.md §8 row 26)."""
        return (await self.get(execution_id)).outputs

    def search(
        self,
        *,
        name: str | None = None,
        status: str | None = None,
        pipeline: str | int | None = None,
        pipeline_version: str | int | None = None,
        pipeline_versions: list[str | int] | None = None,
        organism: str | None = None,
        owner: str | None = None,
        owned: bool | None = None,
        duration_gt: float | None = None,
        duration_lt: float | None = None,
        process_execution: str | None = None,
        nextflow_version: str | None = None,
        terminal: str | None = None,
        return_data: bool | None = None,
        return_inputs: bool | None = None,
        created_after: DateLike | None = None,
        created_before: DateLike | None = None,
        sort: str | None = None,
        page_size: int | None = None,
    ) -> AsyncPager[Execution]:
        """Search executions (``/executions/search``, executions.md).

        ``pipeline``, ``pipeline_version(s)`` and ``organism`` are ids (not names); ``status``
        is exact (``"OK"``, ``"ERROR"``, ``"CANCELED"``); ``name`` is a substring of the
        pipeline, version, organism or fileset name; ``terminal`` a substring of the run's
        stdout or stderr; ``duration_gt``/``duration_lt`` are seconds. ``return_data`` adds
        each run's output files (in ``outputs``), ``return_inputs`` its ``inputs``.

        Example:
            ```python
            async for execution in client.executions.search(status="ERROR", terminal="137"):
                print(execution.id, execution.pipeline_name)
            ```
        """
        params = build_params(
            name=name,
            status=status,
            pipeline=pipeline,
            pipeline_version=pipeline_version,
            pipeline_versions=pipeline_versions,
            organism=organism,
            owner=owner,
            owned=owned,
            duration_gt=duration_gt,
            duration_lt=duration_lt,
            process_execution=process_execution,
            nextflow_version=nextflow_version,
            terminal=terminal,
            return_data=return_data,
            return_inputs=return_inputs,
            sort=sort,
            created_after=created_after,
            created_before=created_before,
        )
        return self._pager(
            "executions/search",
            "executions",
            Execution.model_validate,
            params=params,
            page_size=page_size,
        )
