"""Samples, sample types, metadata attributes and organisms (docs/protocol.md §4.2, §4.5)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from flowbio_async._models._base import FlowModel, Id, OptionalId, Timestamp
from flowbio_async._models._refs import OrganismLink, ProjectLink


class SampleType(FlowModel):
    """A kind of sample (``RNA-Seq``, ``ChIP-Seq``...) from ``/samples/types``.

    Example:
        ```python
        for st in await client.samples.get_types():
            print(f"{st.identifier}: {st.name}")
        ```
    """

    identifier: str
    name: str
    description: str = ""


class MetadataAttribute(FlowModel):
    """A metadata attribute samples can carry; ``options`` is ``None`` when any value goes.

    Example:
        ```python
        for attr in await client.samples.get_metadata_attributes():
            if attr.options is not None:
                print(f"{attr.name}: choose from {attr.options}")
        ```
    """

    identifier: str
    name: str
    description: str = ""
    required: bool = False
    required_for_sample_types: list[str] = Field(default_factory=list)
    options: list[str] | None = None
    allow_annotation: bool = False
    regex_validator: str | None = None
    """A pattern every value must match as a whole, when the server sets one."""
    all_sample_types: bool | None = None
    """Whether the attribute applies to every sample type (else those in ``sample_type_links``)."""
    sample_type_links: list[dict[str, Any]] = Field(default_factory=list)
    """Per-type rules: ``{sample_type_identifier, sample_type_name, required, ...}``."""


class MetadataOption(FlowModel):
    """One allowed value of a metadata attribute (``/samples/metadata/<id>/options``)."""

    id: OptionalId = None
    value: str
    validated: bool | None = None


class Organism(FlowModel):
    """An organism; ``id`` is a short code such as ``Hs`` (docs/protocol.md §4.2).

    Example:
        ```python
        for o in await client.samples.get_organisms():
            print(f"{o.id}: {o.name} ({o.latin_name})")
        ```
    """

    id: Id
    name: str
    latin_name: str | None = None


def _named_ref(value: Any) -> Any:
    # sample_type is an object on search and a plain name on detail (docs/protocol.md §8 row 18).
    return {"name": value} if isinstance(value, str) else value


class SampleTypeRef(FlowModel):
    """A sample type as embedded in a sample: ``identifier`` is absent on sample detail."""

    identifier: str | None = None
    name: str | None = None


class Sample(FlowModel):
    """A sample from search, a project listing or ``/samples/<id>``; extra fields are kept.

    Example:
        ```python
        sample = await client.samples.get("123")
        print(sample.name, sample.sample_type.name if sample.sample_type else None)
        ```
    """

    id: Id
    name: str | None = None
    created: Timestamp = None
    private: bool | None = None
    sample_type: Annotated[SampleTypeRef | None, BeforeValidator(_named_ref)] = None
    organism: OrganismLink = None
    project: ProjectLink = None
    project_name: str | None = None
    owner_name: str | None = None
    is_paired: bool | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
