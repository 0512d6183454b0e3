"""``samples upload``, ``samples upload-batch``, ``samples types``, ``samples metadata`` (#6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowbio_async._cli import _samples_extra
from flowbio_async._cli._batch import report_items
from flowbio_async._cli._catalog import metadata_command, sample_types_command
from flowbio_async._cli._command import Invocation, Verbs
from flowbio_async._cli._credentials import Auth
from flowbio_async._cli._data import add_concurrency
from flowbio_async._cli._exit import CliUsageError, ExitCode
from flowbio_async._cli._sheet import SheetRow, parse_sheet, validate_rows
from flowbio_async._models._uploads import SampleUploadSpec
from flowbio_async._transfers._many import ItemResult

SAMPLE_COLUMNS = [("row", "Row"), ("name", "Name"), ("id", "Sample ID")]


def register(verbs: Verbs) -> None:
    """Add the ``samples`` group."""
    samples = verbs.group("samples", "samples and their catalogue")
    upload = samples.add(
        "upload",
        _upload,
        "upload one sample (reads1 [+ reads2])",
        "Upload one demultiplexed sample: its reads files, sample type and metadata. "
        "Interrupted uploads resume when the command is run again.",
    )
    upload.add_argument("--name", required=True, help="sample name (no spaces)")
    upload.add_argument("--sample-type", required=True, metavar="TYPE", help="see `samples types`")
    upload.add_argument("--reads1", required=True, type=Path, metavar="PATH", help="first reads")
    upload.add_argument("--reads2", type=Path, metavar="PATH", help="second reads (paired-end)")
    upload.add_argument(
        "--metadata",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="metadata attribute (repeatable; see `samples metadata`)",
    )
    upload.add_argument("--project", metavar="ID", help="project to add the sample to")
    upload.add_argument("--organism", metavar="ID", help="organism code, e.g. Hs")

    batch = samples.add(
        "upload-batch",
        _upload_batch,
        "upload one sample per row of a CSV sheet",
        "Upload one sample per row of a CSV sheet with columns name, reads1, reads2, "
        "sample_type, project, organism and one column per metadata identifier. Every row "
        "is validated before anything is uploaded.",
    )
    batch.add_argument("sheet", type=Path, metavar="SHEET.csv")
    batch.add_argument(
        "--sample-type", metavar="TYPE", help="sample type of rows without a sample_type cell"
    )
    add_concurrency(batch, "samples")

    samples.add("types", sample_types_command, "list sample types", auth=Auth.OPTIONAL)
    samples.add("metadata", metadata_command, "list metadata attributes", auth=Auth.OPTIONAL)
    _samples_extra.register(samples)


def parse_metadata(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings to a dict (split on the first ``=``)."""
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key.strip():
            raise CliUsageError(f"invalid --metadata {pair!r}: expected KEY=VALUE")
        metadata[key.strip()] = value
    return metadata


async def _upload(inv: Invocation) -> int:
    args = inv.args
    data = {"reads1": args.reads1}
    if args.reads2 is not None:
        data["reads2"] = args.reads2
    sample = await inv.client.samples.upload_sample(
        name=args.name,
        sample_type=args.sample_type,
        data=data,
        metadata=parse_metadata(args.metadata) or None,
        project_id=args.project,
        organism_id=args.organism,
    )
    inv.output.result(sample, f"Uploaded sample {sample.id} ({args.name})")
    return 0


async def _upload_batch(inv: Invocation) -> int:
    rows = parse_sheet(inv.args.sheet, inv.args.sample_type)
    issues = validate_rows(rows, await inv.client.samples.sample_catalogue())
    if issues:
        inv.output.error("the sample sheet has invalid rows; nothing was uploaded", details=issues)
        return int(ExitCode.USAGE)

    specs = [
        SampleUploadSpec(
            name=row.name,
            sample_type=row.sample_type or "",
            data=row.reads(),
            metadata=row.metadata or None,
            project_id=row.project,
            organism_id=row.organism,
        )
        for row in rows
    ]
    results = await inv.client.samples.upload_samples(specs)
    # Results come back in input order, so each one belongs to the row at the same index.
    by_row = [
        ItemResult(row, value=result.value, error=result.error)
        for row, result in zip(rows, results, strict=True)
    ]
    return report_items(inv.output, by_row, SAMPLE_COLUMNS, _describe, _label)


def _describe(row: SheetRow, sample: Any) -> dict[str, Any]:
    return {"row": row.row, "name": row.name, "id": sample.id}


def _label(row: SheetRow) -> str:
    return f"row {row.row} ({row.name})"
