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
        "is validated before anything is uploaded: an invalid row stops the batch (exit 2) "
        "unless --skip-invalid. Rows start in sheet order; a failed upload leaves the others "
        "going unless --stop-on-error.",
    )
    batch.add_argument("sheet", type=Path, nargs="?", metavar="SHEET.csv", help="the sheet")
    batch.add_argument(
        "--sheet",
        dest="sheet_option",
        type=Path,
        metavar="PATH",
        help="the sheet (the official CLI's spelling; same as the positional SHEET.csv)",
    )
    batch.add_argument(
        "--sample-type", metavar="TYPE", help="sample type of rows without a sample_type cell"
    )
    batch.add_argument(
        "--skip-invalid",
        action="store_true",
        help="skip invalid rows (reporting why) and upload the valid ones",
    )
    batch.add_argument(
        "--stop-on-error",
        action="store_true",
        help="start no further row after the first failed upload (rows already uploading "
        "finish); the rows never started are reported",
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


def _sheet_path(args: Any) -> Path:
    """The sheet, given as ``SHEET.csv`` or as ``--sheet PATH`` (the official spelling)."""
    positional, option = args.sheet, args.sheet_option
    if positional is not None and option is not None and positional != option:
        raise CliUsageError(
            f"two sample sheets given ({positional} and --sheet {option}); pass one"
        )
    sheet: Path | None = positional or option
    if sheet is None:
        raise CliUsageError("no sample sheet given: pass SHEET.csv (or --sheet PATH)")
    return sheet


async def _upload_batch(inv: Invocation) -> int:
    args = inv.args
    every = parse_sheet(_sheet_path(args), args.sample_type)
    issues = validate_rows(every, await inv.client.samples.sample_catalogue())
    if issues and (not args.skip_invalid or any(issue["row"] == 0 for issue in issues)):
        inv.output.error("the sample sheet has invalid rows; nothing was uploaded", details=issues)
        return int(ExitCode.USAGE)
    skipped = _skipped_rows(every, issues)
    rows = [row for row in every if row.row not in {entry["row"] for entry in skipped}]
    for entry in skipped:
        reasons = "; ".join(str(reason) for reason in entry["reasons"])
        inv.output.advisory(f"skipped: row {entry['row']} ({entry['name']}): {reasons}")
    if not rows:
        # --skip-invalid and nothing valid: a script must not read "done" from exit 0.
        inv.output.error(
            "every row of the sample sheet is invalid; nothing was uploaded", details=issues
        )
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
    results = await inv.client.samples.upload_samples(specs, stop_on_error=args.stop_on_error)
    # Results come back in input order, so each one belongs to the row at the same index.
    by_row = [
        ItemResult(row, value=result.value, error=result.error)
        for row, result in zip(rows, results, strict=True)
    ]
    return report_items(inv.output, by_row, SAMPLE_COLUMNS, _describe, _label, skipped=skipped)


def _skipped_rows(rows: list[SheetRow], issues: list[dict[str, object]]) -> list[dict[str, Any]]:
    """``--skip-invalid``: each invalid row once, in sheet order, with every reason."""
    reasons: dict[int, list[object]] = {}
    for issue in issues:
        reasons.setdefault(int(str(issue["row"])), []).append(issue["message"])
    return [
        {"row": row.row, "name": row.name, "reasons": reasons[row.row]}
        for row in rows
        if row.row in reasons
    ]


def _describe(row: SheetRow, sample: Any) -> dict[str, Any]:
    return {"row": row.row, "name": row.name, "id": sample.id}


def _label(row: SheetRow) -> str:
    return f"row {row.row} ({row.name})"
