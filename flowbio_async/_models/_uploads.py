"""Results of uploads that have no model of their own elsewhere (docs/protocol.md §3.5-3.6)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from flowbio_async._models._base import FlowModel, Id


class AnnotationUpload(FlowModel):
    """An uploaded annotation sheet and the warnings the server accepted with it.

    Example:
        ```python
        sheet = await client.samples.upload_annotation("annotation.csv")
        print(sheet.id, len(sheet.warnings))
        ```
    """

    id: Id
    warnings: list[dict[str, Any]] = Field(default_factory=list)


class MultiplexedUpload(FlowModel):
    """Result of :meth:`~flowbio_async.AsyncClient.samples` ``.upload_multiplexed_data``.

    Mirrors the official client's ``MultiplexedUpload`` (docs/protocol.md §3.5).

    Example:
        ```python
        result = await client.samples.upload_multiplexed_data(
            {"reads1": "R1.fastq.gz"}, annotation="annotation.csv"
        )
        print(result.data_ids, result.annotation_id, result.warnings)
        ```
    """

    data_ids: list[Id]
    annotation_id: Id
    warnings: list[dict[str, Any]] = Field(default_factory=list)


@dataclass(frozen=True)
class SampleUploadSpec:
    """One sample of :meth:`upload_samples`: the arguments of ``upload_sample``.

    Example:
        ```python
        spec = SampleUploadSpec(
            name="liver_1",
            sample_type="RNA-Seq",
            data={"reads1": "liver_1_R1.fastq.gz", "reads2": "liver_1_R2.fastq.gz"},
            metadata={"strandedness": "reverse"},
        )
        ```
    """

    name: str
    sample_type: str
    data: Mapping[str, str | os.PathLike[str]]
    metadata: Mapping[str, str] | None = None
    project_id: str | None = None
    organism_id: str | None = None
