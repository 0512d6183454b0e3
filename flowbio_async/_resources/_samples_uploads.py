"""Sample operations: uploads (docs/protocol.md §3.4-3.6; issue #3).

Names and semantics mirror the official client's ``SampleResource`` (flowbio v2): files of a
sample go one after another to ``/upload/sample`` with ``previous_data`` threading them, and
a multiplexed upload sends its annotation sheet first so a bad sheet wastes no reads upload.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flowbio_async._errors import (
    AnnotationWarningsError,
    FlowError,
    NotFoundError,
    NotStartedError,
)
from flowbio_async._models._parse import parse_model
from flowbio_async._models._samples import MetadataAttribute, Sample, SampleType
from flowbio_async._models._uploads import AnnotationUpload, MultiplexedUpload, SampleUploadSpec
from flowbio_async._progress import Progress, ProgressCallback
from flowbio_async._resources._base import Resource
from flowbio_async._sample_rules import SampleCatalogue, check_samples
from flowbio_async._tasks import task_group
from flowbio_async._transfers._many import ItemResult, call_concurrency, run_many
from flowbio_async._transfers._sources import Source, check_source, ordered_reads
from flowbio_async._transfers._upload import ChunkedUploader, UploadJob, upload_with_progress
from flowbio_async._types import PathLike

logger = logging.getLogger("flowbio_async")


def _sample_fields(spec: SampleUploadSpec) -> dict[str, str]:
    # docs/protocol.md §3.4 / §8 row 28: metadata flattened beside the protocol fields.
    fields: dict[str, str] = {"sample_name": spec.name, "sample_type": spec.sample_type}
    fields.update({str(k): str(v) for k, v in (spec.metadata or {}).items()})
    if spec.project_id:
        fields["project"] = str(spec.project_id)
    if spec.organism_id:
        fields["organism"] = str(spec.organism_id)
    return fields


def _rule_input(
    spec: SampleUploadSpec,
) -> tuple[str, str, list[str], Mapping[str, str] | None]:
    return spec.name, spec.sample_type, list(spec.data), spec.metadata


class SampleUploads(Resource):
    """Sample uploads (mixin of :class:`SampleResource`)."""

    if TYPE_CHECKING:  # provided by SampleReads in the composed SampleResource

        async def get(self, sample_id: str | int) -> Sample: ...
        async def get_types(self) -> list[SampleType]: ...
        async def get_metadata_attributes(self) -> list[MetadataAttribute]: ...

    def _uploader(self) -> ChunkedUploader:
        ctx = self._ctx
        return ChunkedUploader(
            ctx.http, ctx.config, ctx.limiter, streams=ctx.streams, memory=ctx.upload_memory
        )

    async def sample_catalogue(self) -> SampleCatalogue:
        """The server's sample types and metadata attributes, as the upload checks use them.

        A part the server does not publish (404) is ``None`` and its checks are skipped.

        Example:
            ```python
            catalogue = await client.samples.sample_catalogue()
            print([t.identifier for t in catalogue.types or []])
            ```
        """
        found: dict[str, Any] = {}

        async def load(key: str, fetch: Any) -> None:
            try:
                found[key] = await fetch()
            except NotFoundError:
                found[key] = None

        async with task_group() as group:  # a failure is the FlowError itself (#14)
            group.start_soon(load, "types", self.get_types)
            group.start_soon(load, "attributes", self.get_metadata_attributes)
        return SampleCatalogue(types=found["types"], attributes=found["attributes"])

    async def _checked(self, specs: Sequence[SampleUploadSpec]) -> list[list[Source]]:
        """Every spec against the one sample rule, then its files; raises before any byte."""
        check_samples([_rule_input(spec) for spec in specs], await self.sample_catalogue())
        return [[check_source(path) for _, path in ordered_reads(s.data)] for s in specs]

    async def upload_sample(
        self,
        name: str,
        sample_type: str,
        data: Mapping[str, PathLike],
        metadata: Mapping[str, str] | None = None,
        project_id: str | None = None,
        organism_id: str | None = None,
        *,
        progress: ProgressCallback | None = None,
        resume: bool = True,
    ) -> Sample:
        """Upload a sample's files (``reads1`` first) and return the created sample.

        Only ``reads1``/``reads2`` are valid reads keys and ``reads2`` needs ``reads1``;
        other key names (non-sequencing types) upload in the order given. A sample whose
        upload was interrupted continues, when called again, without re-sending the files
        the server already finished.

        Example:
            ```python
            sample = await client.samples.upload_sample(
                "liver_1",
                "RNA-Seq",
                data={"reads1": "liver_1_R1.fastq.gz", "reads2": "liver_1_R2.fastq.gz"},
                metadata={"strandedness": "reverse"},
            )
            print(sample.id)
            ```
        """
        spec = SampleUploadSpec(name, sample_type, data, metadata, project_id, organism_id)
        (sources,) = await self._checked([spec])
        with self._ctx.progress(progress) as reporter:
            reporter.plan(len(sources), sum(source.size for source in sources))
            return await self._send_sample(spec, sources, reporter, resume)

    async def upload_samples(
        self,
        samples: Sequence[SampleUploadSpec],
        *,
        progress: ProgressCallback | None = None,
        resume: bool = True,
        fail_fast: bool = False,
        max_concurrency: int | None = None,
        stop_on_error: bool = False,
    ) -> list[ItemResult[SampleUploadSpec, Sample]]:
        """Upload many samples concurrently; one result per sample, in input order.

        At most ``max_concurrency`` samples upload at once (default and ceiling: the
        client-wide ``config.max_concurrency``); a sample's own files go one after another.
        Samples start in input order. A failed sample leaves the others going, unless
        ``fail_fast=True`` (the first error cancels the rest and is raised) or
        ``stop_on_error=True`` (no sample starts after the first failure, those already
        uploading finish, and the ones never started come back with a
        :class:`NotStartedError`; the official CLI's ``--stop-on-error``).

        Example:
            ```python
            results = await client.samples.upload_samples([
                SampleUploadSpec("a", "RNA-Seq", {"reads1": "a_R1.fq.gz"}),
                SampleUploadSpec("b", "RNA-Seq", {"reads1": "b_R1.fq.gz"}),
            ], max_concurrency=2)
            print([r.value.id for r in results if r.ok])
            ```
        """
        # Refused before anything is read or sent, like `data.upload_many`.
        workers = call_concurrency(max_concurrency, self._ctx.config.max_concurrency)
        checked = list(zip(samples, await self._checked(samples), strict=True))
        label = f"{len(checked)} samples"
        with self._ctx.progress(progress, aggregate_label=label) as reporter:
            every = [source for _, sources in checked for source in sources]
            reporter.plan(len(every), sum(source.size for source in every))

            async def one(item: tuple[SampleUploadSpec, list[Source]]) -> Sample:
                return await self._send_sample(item[0], item[1], reporter, resume)

            results = await run_many(
                checked, one, concurrency=workers, fail_fast=fail_fast, stop_on_error=stop_on_error
            )
            for result in results:
                if isinstance(result.error, NotStartedError):
                    for unsent in result.item[1]:
                        reporter.skip(unsent.size, ok=False)  # planned, never started
        return [ItemResult(r.item[0], value=r.value, error=r.error) for r in results]

    async def _send_sample(
        self, spec: SampleUploadSpec, sources: list[Source], reporter: Progress, resume: bool
    ) -> Sample:
        uploader = self._uploader()
        base = _sample_fields(spec)
        previous: list[str] = []
        earlier: list[UploadJob] = []
        final: dict[str, Any] = {}
        for index, source in enumerate(sources):
            is_last = index == len(sources) - 1
            fields: dict[str, str | list[str]] = {
                **base,
                "is_last_sample": "true" if is_last else "false",
                "previous_data": list(previous),  # repeated parts; none for the first file
            }
            job = UploadJob("upload/sample", source.path, source.filename, fields)
            try:
                # Earlier files keep a completed record so a re-run skips them (#3 resume).
                final = await upload_with_progress(
                    uploader, job, reporter, resume=resume, keep_record=not is_last
                )
            except Exception:
                for unsent in sources[index + 1 :]:
                    reporter.skip(unsent.size, ok=False)  # planned, never started
                raise
            if not is_last:
                previous.append(str(final.get("data_id") or final.get("id")))
                earlier.append(job)
        for job in earlier:
            uploader.forget(job)
        return await self._created_sample(spec, str(final.get("sample_id")))

    async def _created_sample(self, spec: SampleUploadSpec, sample_id: str) -> Sample:
        """The new sample as ``get`` shows it (one GET after the final chunk, #17 item 9)."""
        try:
            sample = await self.get(sample_id)
        except FlowError as exc:
            # The sample exists: failing now would invite a duplicate upload on a re-run.
            logger.warning("sample %s was uploaded, but reading it back failed: %s", sample_id, exc)
            body = {"id": sample_id, "name": spec.name, "sample_type": spec.sample_type}
            return parse_model(Sample, body, endpoint="POST upload/sample")
        if sample.sample_type is not None and sample.sample_type.identifier is None:
            # Sample detail names the type but omits its identifier (docs/protocol.md §8 row 18).
            known = sample.sample_type.model_copy(update={"identifier": spec.sample_type})
            sample = sample.model_copy(update={"sample_type": known})
        return sample

    async def upload_annotation(
        self,
        annotation: PathLike,
        ignore_warnings: bool = True,
        *,
        progress: ProgressCallback | None = None,
    ) -> AnnotationUpload:
        """Upload and validate an annotation sheet (``.csv`` or ``.xlsx``, docs/protocol.md §3.6).

        Hard errors raise :class:`AnnotationValidationError`. Warnings are accepted by
        re-sending the sheet with ``ignore_warnings`` (and returned), or raise
        :class:`AnnotationWarningsError` when ``ignore_warnings=False``.

        Example:
            ```python
            sheet = await client.samples.upload_annotation("annotation.csv")
            for warning in sheet.warnings:
                print(warning)
            ```
        """
        source = check_source(annotation)
        with self._ctx.progress(progress) as reporter:
            return await self._send_annotation(source, ignore_warnings, reporter)

    async def _send_annotation(
        self, source: Source, ignore_warnings: bool, reporter: Progress
    ) -> AnnotationUpload:
        uploader = self._uploader()
        job = UploadJob("upload/annotation", source.path, source.filename, {})
        try:
            final = await upload_with_progress(uploader, job, reporter, resume=False)
        except AnnotationWarningsError as exc:
            if not ignore_warnings:
                raise
            # docs/protocol.md §3.6: re-send the whole sheet from offset 0 with ignore_warnings.
            retry = UploadJob(
                "upload/annotation", source.path, source.filename, {"ignore_warnings": "true"}
            )
            final = await upload_with_progress(uploader, retry, reporter, resume=False)
            return AnnotationUpload(id=_final_id(final), warnings=_dicts(exc.warnings))
        return AnnotationUpload(id=_final_id(final))

    async def upload_multiplexed_data(
        self,
        reads: Mapping[str, PathLike],
        annotation: PathLike,
        ignore_warnings: bool = True,
        *,
        progress: ProgressCallback | None = None,
        resume: bool = True,
    ) -> MultiplexedUpload:
        """Upload multiplexed reads with their annotation sheet (annotation first,
        docs/protocol.md §3.5).

        Example:
            ```python
            result = await client.samples.upload_multiplexed_data(
                {"reads1": "pool_R1.fastq.gz", "reads2": "pool_R2.fastq.gz"},
                annotation="annotation.csv",
            )
            print(result.data_ids, result.annotation_id, result.warnings)
            ```
        """
        sources = [check_source(path) for _, path in ordered_reads(reads)]
        sheet = check_source(annotation)
        with self._ctx.progress(progress) as reporter:
            reporter.plan(1 + len(sources), sheet.size + sum(s.size for s in sources))
            uploaded = await self._send_annotation(sheet, ignore_warnings, reporter)
            uploader = self._uploader()
            data_ids: list[str] = []
            for source in sources:
                # The second file names the first (docs/protocol.md §3.5).
                fields = {"reads1": data_ids[0]} if data_ids else {}
                job = UploadJob("upload/multiplexed", source.path, source.filename, fields)
                final = await upload_with_progress(uploader, job, reporter, resume=resume)
                data_ids.append(_final_id(final))
        return MultiplexedUpload(
            data_ids=data_ids, annotation_id=uploaded.id, warnings=uploaded.warnings
        )

    async def get_annotation_template(self, sample_type: str = "generic") -> bytes:
        """Download the annotation sheet template (xlsx bytes) for a sample type.

        Example:
            ```python
            template = await client.samples.get_annotation_template("RNA-Seq")
            Path("template.xlsx").write_bytes(template)
            ```
        """
        response = await self._ctx.http.request("GET", f"annotation/{sample_type}")
        return response.content


def _final_id(final: Mapping[str, Any]) -> str:
    # docs/protocol.md §8 row 8: the final id is `id`, else `data_id`.
    return str(final.get("id") or final.get("data_id"))


def _dicts(items: list[Any]) -> list[dict[str, Any]]:
    return [item if isinstance(item, dict) else {"message": item} for item in items]
