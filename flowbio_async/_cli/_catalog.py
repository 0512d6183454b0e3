"""Catalogue listings: ``samples types``, ``samples metadata``, ``organisms``, ``projects``."""

from __future__ import annotations

from flowbio_async._cli._command import Invocation, Verbs
from flowbio_async._cli._credentials import Auth


def register(verbs: Verbs) -> None:
    """Add ``organisms`` and ``projects`` (the ``samples`` listings are added by _samples)."""
    verbs.add("organisms", organisms_command, "list organisms", auth=Auth.OPTIONAL)
    verbs.add("projects", projects_command, "list your projects", "List every project you own.")


async def sample_types_command(inv: Invocation) -> int:
    """``samples types``: the sample types samples can be uploaded as."""
    types = await inv.client.samples.get_types()
    rows = [t.model_dump(mode="json") for t in types]
    inv.output.table(
        rows, [("identifier", "Identifier"), ("name", "Name"), ("description", "Description")]
    )
    return 0


async def metadata_command(inv: Invocation) -> int:
    """``samples metadata``: the metadata attributes, which are required, allowed values."""
    attributes = await inv.client.samples.get_metadata_attributes()
    rows = [a.model_dump(mode="json") for a in attributes]
    for row, attribute in zip(rows, attributes, strict=True):
        required_for = ", ".join(attribute.required_for_sample_types)
        row["required_text"] = "always" if attribute.required else required_for
    columns = [
        ("identifier", "Identifier"),
        ("name", "Name"),
        ("required_text", "Required for"),
        ("options", "Allowed values"),
    ]
    inv.output.table(rows, columns, document=[a.model_dump(mode="json") for a in attributes])
    return 0


async def organisms_command(inv: Invocation) -> int:
    """``organisms``: organism codes to pass as ``--organism``."""
    organisms = await inv.client.samples.get_organisms()
    rows = [o.model_dump(mode="json") for o in organisms]
    inv.output.table(rows, [("id", "ID"), ("name", "Name"), ("latin_name", "Latin name")])
    return 0


async def projects_command(inv: Invocation) -> int:
    """``projects``: every project the user owns (all pages)."""
    rows = [p.model_dump(mode="json") async for p in inv.client.projects.get_owned()]
    columns = [("id", "ID"), ("name", "Name"), ("sample_count", "Samples"), ("private", "Private")]
    inv.output.table(rows, columns)
    return 0
