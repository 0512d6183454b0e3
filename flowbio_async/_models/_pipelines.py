"""Pipelines, their versions and the run schema (flow-skills ``endpoints/pipelines.md``).

``GET /pipelines`` is a bare tree of :class:`PipelineCategory` → :class:`PipelineSubcategory`
→ :class:`PipelineSummary`; ``GET /pipelines/<id>`` is a :class:`Pipeline` whose versions are
newest first; ``GET /pipelines/versions/<id>`` is a :class:`PipelineVersion` carrying the run
schema: sections of params keyed by their command-line name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import Field

from flowbio_async._models._base import FlowModel, Id, OptionalId


class PipelineSummary(FlowModel):
    """A pipeline as listed in the catalogue tree (no versions there)."""

    id: Id
    name: str
    description: str | None = ""
    execution_count: int | None = None
    is_nfcore: bool | None = None
    prepares_genome: bool | None = None


class PipelineSubcategory(FlowModel):
    """A subcategory of the catalogue and its pipelines."""

    name: str
    description: str | None = ""
    pipelines: list[PipelineSummary] = Field(default_factory=list)


class PipelineCategory(FlowModel):
    """A top-level category of the catalogue (``GET /pipelines``).

    Example:
        ```python
        for category in await client.pipelines.get_catalogue():
            for sub in category.subcategories:
                print(category.name, sub.name, [p.name for p in sub.pipelines])
        ```
    """

    name: str
    description: str | None = ""
    subcategories: list[PipelineSubcategory] = Field(default_factory=list)

    def pipelines(self) -> Iterator[PipelineSummary]:
        """Every pipeline of this category, subcategory by subcategory."""
        for sub in self.subcategories:
            yield from sub.pipelines


class PipelineVersionRef(FlowModel):
    """One version as listed by ``GET /pipelines/<id>``."""

    id: Id
    name: str
    nextflow_versions: list[str] = Field(default_factory=list)


class Pipeline(FlowModel):
    """A pipeline with its versions, newest first (``GET /pipelines/<id>``).

    Example:
        ```python
        pipeline = await client.pipelines.get("1")
        print(pipeline.name, [v.name for v in pipeline.versions])
        ```
    """

    id: Id
    name: str
    description: str | None = ""
    is_nfcore: bool | None = None
    prepares_genome: bool | None = None
    repo_url: str | None = None
    repo_original_url: str | None = None
    versions: list[PipelineVersionRef] = Field(default_factory=list)

    @property
    def latest(self) -> PipelineVersionRef | None:
        """The most recent version (``versions[0]``: the notes' default), if any."""
        return self.versions[0] if self.versions else None


class SchemaColumn(FlowModel):
    """A column of a csv (samplesheet) param; the server fills ``from_sample`` columns."""

    name: str
    from_sample: Any = None
    from_fileset: Any = None
    default: Any = None
    required: bool = False


class SchemaParam(FlowModel):
    """One run parameter: ``type`` is string, number, boolean, hidden, data or csv.

    ``param`` (when set) is the name the run body uses instead of the schema key.
    """

    type: str = "string"
    name: str | None = None
    description: str | None = None
    required: bool = False
    default: Any = None
    valid: list[Any] | None = None
    param: str | None = None
    pattern: str | None = None
    category: int | None = None
    data_types: list[str] | None = None
    takes_samples: bool = False
    takes_filesets: bool = False
    sample_types: list[str] | None = None
    columns: list[SchemaColumn] = Field(default_factory=list)


class SchemaSection(FlowModel):
    """A section of the run form; ``advanced`` ones are folded away in the web app."""

    name: str | None = None
    description: str | None = None
    advanced: bool = False
    params: dict[str, SchemaParam] = Field(default_factory=dict)


class PipelineSchema(FlowModel):
    """The run schema of a version: its ``inputs`` sections."""

    inputs: list[SchemaSection] = Field(default_factory=list)

    def params(self) -> Iterator[tuple[str, SchemaParam, SchemaSection]]:
        """``(submitted name, param, section)`` for every param, in form order."""
        for section in self.inputs:
            for key, param in section.params.items():
                yield param.param or key, param, section


class PipelineRef(FlowModel):
    id: OptionalId = None
    name: str | None = None


class PipelineVersion(FlowModel):
    """A version with its run schema and Nextflow versions (``GET /pipelines/versions/<id>``).

    ``run_schema`` is the server's ``schema`` member (renamed: pydantic models own ``schema``).

    Example:
        ```python
        version = await client.pipelines.get_version("2")
        for name, param, _ in version.run_schema.params():
            print(name, param.type, "required" if param.required else "")
        ```
    """

    id: Id
    name: str
    long_description: str | None = ""
    nextflow_versions: list[str] = Field(default_factory=list)
    run_schema: PipelineSchema = Field(default_factory=PipelineSchema, alias="schema")
    upstream_pipeline_versions: list[Any] = Field(default_factory=list)
    pipeline: PipelineRef | None = None
