"""The ``client.pipelines`` resource: the catalogue, versions and their schemas, runs (#11).

Wire protocol: docs/protocol.md §4.7 and the Flow maintainers' notes (flow-skills
``endpoints/pipelines.md``). A run reads the version's schema, builds the body from it
(``_run_body``) and checks everything it can know before the ``POST``: the user's
``can_run_pipelines``, every param, that each data and sample id is readable, the Nextflow
version. A refused run starts nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import anyio

from flowbio_async._errors import (
    AuthenticationError,
    BadRequestError,
    FlowApiError,
    NotFoundError,
    PermissionDeniedError,
)
from flowbio_async._models._data import Data
from flowbio_async._models._executions import Execution
from flowbio_async._models._pipelines import (
    Pipeline,
    PipelineCategory,
    PipelineRef,
    PipelineSummary,
    PipelineVersion,
    PipelineVersionRef,
)
from flowbio_async._models._samples import Sample
from flowbio_async._models._users import User
from flowbio_async._pipeline_errors import (
    PipelineNotFoundError,
    RunNotPermittedError,
    RunRefusedError,
)
from flowbio_async._resources._base import Resource, parse_response, segment
from flowbio_async._resources._run_body import RunBuilder, ref_id
from flowbio_async._tasks import task_group
from flowbio_async._types import DataOrId, ExecutionOrId, IdLike, SampleOrId, VersionOrId

M = TypeVar("M")
_LOOKUPS = 8  # concurrent GETs while checking data and sample ids


def _copy_api_error(cls: type[FlowApiError], exc: FlowApiError) -> FlowApiError:
    return cls(
        exc.message,
        status_code=exc.status_code,
        code=exc.code,
        details=exc.details,
        problem=exc.problem,
        body=exc.body,
        method=exc.method,
        url=exc.url,
        headers=exc.headers,
    )


class PipelineResource(Resource):
    """Pipelines: the catalogue, one pipeline, one version's schema, and running a version."""

    async def get_catalogue(self) -> list[PipelineCategory]:
        """The catalogue tree: categories → subcategories → pipelines (``GET /pipelines``).

        Example:
            ```python
            for category in await client.pipelines.get_catalogue():
                for pipeline in category.pipelines():
                    print(category.name, pipeline.id, pipeline.name)
            ```
        """
        return await self._get_models(PipelineCategory, "pipelines")

    async def get(self, pipeline_id: IdLike) -> Pipeline:
        """One pipeline with its versions, newest first (``GET /pipelines/<id>``).

        Example:
            ```python
            pipeline = await client.pipelines.get("1")
            print(pipeline.latest.name if pipeline.latest else "no versions")
            ```
        """
        return await self._get_model(Pipeline, f"pipelines/{segment(pipeline_id)}")

    async def get_version(self, version_id: IdLike) -> PipelineVersion:
        """A version with its run schema and Nextflow versions (``/pipelines/versions/<id>``).

        Example:
            ```python
            version = await client.pipelines.get_version("2")
            print(version.nextflow_versions[0], [n for n, _, _ in version.run_schema.params()])
            ```
        """
        path = f"pipelines/versions/{segment(version_id)}"
        return await self._get_model(PipelineVersion, path)

    async def find(self, name: str, version: str | None = None) -> PipelineVersion:
        """The version named ``version`` of the pipeline named ``name`` (case-insensitive);
        the most recent version when ``version`` is None, as the notes advise.

        Raises:
            PipelineNotFoundError: no such pipeline or version; ``valid`` lists the names.

        Example:
            ```python
            version = await client.pipelines.find("RNA-Seq")           # latest
            older = await client.pipelines.find("RNA-Seq", "3.12.0")
            ```
        """
        summaries = flatten(await self.get_catalogue())
        wanted = name.strip().lower()
        match = next((p for p in summaries if p.name.lower() == wanted), None)
        if match is None:
            names = sorted({p.name for p in summaries})
            raise PipelineNotFoundError(
                f"no pipeline named {name!r}; pipelines: {', '.join(names) or 'none'}",
                name=name,
                valid=names,
            )
        pipeline = await self.get(match.id)
        chosen = _pick_version(pipeline, version)
        found = await self.get_version(chosen.id)
        if found.pipeline is None:
            found.pipeline = PipelineRef(id=pipeline.id, name=pipeline.name)
        return found

    async def run(
        self,
        version_or_id: VersionOrId,
        *,
        params: Mapping[str, Any] | None = None,
        data_params: Mapping[str, DataOrId] | None = None,
        csv_params: Mapping[str, Any] | None = None,
        samples: Sequence[SampleOrId] | None = None,
        nextflow_version: str | None = None,
        fileset: IdLike | None = None,
        retry_of: ExecutionOrId | None = None,
        resequence_samples: bool | None = None,
    ) -> Execution:
        """Run a pipeline version; returns the new execution (status ``""`` while queued).

        The body is built from the version's schema: defaults and hidden params are filled,
        booleans become ``"true"``/``"false"``, ``samples`` become the rows of the csv param
        that takes samples, data and samples may be objects or ids, and the Nextflow version
        defaults to the newest listed. Any param may be given in ``params`` by name; data and
        csv params may also go in ``data_params``/``csv_params``. ``retry_of`` marks the run as
        a retry of an earlier execution of the same version.

        Raises:
            RunNotPermittedError: the user may not run pipelines (checked before any POST).
            InvalidRunError: the inputs do not fit the schema; every problem is listed, with
                the valid values, and nothing was sent.
            RunRefusedError: the server refused the body (400 field errors).
            NotFoundError: no readable version with that id.

        Example:
            ```python
            version = await client.pipelines.find("RNA-Seq")
            execution = await client.pipelines.run(
                version, samples=[sample], params={"genome": "GRCh38"}
            )
            print(execution.id, client.executions.web_url(execution))
            ```
        """
        await self._check_may_run()
        version = await self._version(version_or_id)
        builder = RunBuilder(
            version,
            params=params,
            data_params=data_params,
            csv_params=csv_params,
            samples=samples,
            nextflow_version=nextflow_version,
        )
        data = await self._lookup(builder.data_ids(), self._data_or_none)
        found_samples = await self._lookup(builder.sample_ids(), self._sample_or_none)
        body = builder.body(data=data, samples=found_samples)
        if fileset is not None:
            body["fileset"] = ref_id(fileset)
        if retry_of is not None:
            body["retries"] = ref_id(retry_of)
        if resequence_samples is not None:
            body["resequence_samples"] = resequence_samples
        return await self._post_run(version, body)

    # -- helpers ----------------------------------------------------------------------------
    async def _check_may_run(self) -> None:
        """``/me`` says whether the user may run pipelines: refuse before any POST if not."""
        response = await self._ctx.http.request("GET", "me")
        me = parse_response(User, response, "GET me")
        if me.id is None:
            raise AuthenticationError(
                "running a pipeline needs a logged-in user (log in first)", status_code=401
            )
        if me.can_run_pipelines is False:
            raise RunNotPermittedError(
                f"User cannot run pipelines: can_run_pipelines is false for {me.username}",
                status_code=403,
            )

    async def _version(self, version_or_id: VersionOrId) -> PipelineVersion:
        if isinstance(version_or_id, PipelineVersion) and version_or_id.run_schema.inputs:
            return version_or_id
        if isinstance(version_or_id, PipelineVersion | PipelineVersionRef):
            found = await self.get_version(version_or_id.id)
            if isinstance(version_or_id, PipelineVersion) and found.pipeline is None:
                found.pipeline = version_or_id.pipeline
            return found
        return await self.get_version(version_or_id)

    async def _lookup(
        self, ids: Iterable[str], fetch: Callable[[str], Awaitable[M | None]]
    ) -> dict[str, M | None]:
        found: dict[str, M | None] = {}
        limiter = anyio.CapacityLimiter(_LOOKUPS)

        async def one(key: str) -> None:
            async with limiter:
                found[key] = await fetch(key)

        async with task_group() as group:  # a failure is the FlowError itself (#14)
            for key in sorted(set(ids)):
                group.start_soon(one, key)
        return found

    async def _data_or_none(self, data_id: str) -> Data | None:
        try:
            return await self._get_model(Data, f"data/{segment(data_id)}")
        except NotFoundError:
            return None

    async def _sample_or_none(self, sample_id: str) -> Sample | None:
        try:
            return await self._get_model(Sample, f"samples/{segment(sample_id)}")
        except NotFoundError:
            return None

    async def _post_run(self, version: PipelineVersion, body: dict[str, Any]) -> Execution:
        path = f"pipelines/versions/{segment(version.id)}/run"
        try:
            # Not idempotent: only a connection that never opened is retried (DEVELOPING.md).
            response = await self._ctx.http.request("POST", path, json=body, retry=False)
        except BadRequestError as exc:
            raise _copy_api_error(RunRefusedError, exc) from exc
        except PermissionDeniedError as exc:
            raise _copy_api_error(RunNotPermittedError, exc) from exc
        execution = parse_response(Execution, response, f"POST {path}")
        for data in execution.outputs:
            self._with_download_url(data)
        return execution


def _pick_version(pipeline: Pipeline, version: str | None) -> PipelineVersionRef:
    names = [v.name for v in pipeline.versions]
    if version is None:
        if pipeline.latest is None:
            message = f"pipeline {pipeline.name!r} has no version you can run"
            raise PipelineNotFoundError(message, name=pipeline.name, valid=[])
        return pipeline.latest
    for candidate in pipeline.versions:
        if candidate.name == version.strip():
            return candidate
    raise PipelineNotFoundError(
        f"{pipeline.name} has no version {version!r}; versions: {', '.join(names) or 'none'}",
        name=version,
        valid=names,
    )


def flatten(catalogue: Iterable[PipelineCategory]) -> list[PipelineSummary]:
    """Every pipeline of a catalogue tree, in catalogue order."""
    return [pipeline for category in catalogue for pipeline in category.pipelines()]
