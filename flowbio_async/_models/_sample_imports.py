"""Sample imports from public-archive accessions (docs/protocol.md §3.7; flowbio 0.14.1
``samples.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from flowbio_async._models._base import FlowModel, Id, OptionalId, Timestamp

SampleImportStatus = Literal["RUNNING", "COMPLETED", "FAILED"]


@dataclass(frozen=True)
class SampleImportSpec:
    """One accession to import, with the sample it should become.

    ``name`` defaults to the accession on the server; ``organism_id``/``project_id`` are sent
    as ``organism``/``project``; ``pubmed`` is a bare number; ``metadata`` maps attribute
    identifiers to values (see ``client.samples.get_metadata_attributes()``).

    Example:
        ```python
        spec = SampleImportSpec("ERR1160845", "RNA-Seq", organism_id="Hs",
                                metadata={"strandedness": "reverse", "scientist": "Ada"})
        ```
    """

    accession: str
    sample_type: str
    name: str | None = None
    organism_id: str | None = None
    project_id: str | int | None = None
    pubmed: str | None = None
    metadata: dict[str, str] | None = None

    def to_wire(self) -> dict[str, Any]:
        """The JSON object sent for this spec: the two required keys, the rest when given."""
        fields: dict[str, Any] = {"accession": self.accession, "sample_type": self.sample_type}
        optional = {
            "name": self.name,
            "organism": self.organism_id,
            "project": None if self.project_id is None else str(self.project_id),
            "pubmed": self.pubmed,
            "metadata": dict(self.metadata) if self.metadata else None,
        }
        fields.update({key: value for key, value in optional.items() if value})
        return fields


class SampleImportJob(FlowModel):
    """A batch import job: one status for the whole batch.

    ``sample_ids`` match ``accessions`` position by position once ``status`` is
    ``COMPLETED``; ``error`` says why a ``FAILED`` job failed.

    Example:
        ```python
        job = await client.samples.get_import("12")
        if job.completed:
            print(dict(zip(job.accessions, job.sample_ids)))
        ```
    """

    id: Id
    status: str
    created: Timestamp = None
    started: Timestamp = None
    finished: Timestamp = None
    accessions: list[str] = Field(default_factory=list)
    sample_ids: list[Id] = Field(default_factory=list)
    execution_id: OptionalId = None
    error: str | None = None

    @property
    def running(self) -> bool:
        """Still importing (anything but COMPLETED or FAILED counts as running)."""
        return not (self.completed or self.failed)

    @property
    def completed(self) -> bool:
        return self.status.upper() == "COMPLETED"

    @property
    def failed(self) -> bool:
        return self.status.upper() == "FAILED"
