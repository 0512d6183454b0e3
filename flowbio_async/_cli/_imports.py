"""``samples import`` and ``samples import-status``: samples from public accessions (#11).

Like the official 0.14.1 CLI: ``import --sheet SHEET.csv`` (columns ``accession`` and
``sample_type`` required; ``name``, ``organism``, ``project``, ``pubmed`` optional; every
other column is a metadata attribute) starts one job and prints its id; ``import-status
--job-id ID`` prints its state and exits 1 when the job FAILED, so a script can branch on
the exit code alone. Added here: ``--accession`` for one accession without a sheet, and
``--wait`` to follow the job to its end. The server checks every row; a refused sheet exits
5 listing ``/imports/<row>/<field>`` problems, and no job starts.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

from flowbio_async._cli._command import Invocation, Verbs
from flowbio_async._cli._exit import CliUsageError, ExitCode
from flowbio_async._cli._samples import parse_metadata
from flowbio_async._models._sample_imports import SampleImportJob, SampleImportSpec

RESERVED = ("accession", "sample_type", "name", "organism", "project", "pubmed")


def register(verbs: Verbs) -> None:
    """Add ``samples import`` and ``samples import-status``."""
    samples = verbs.group("samples", "samples and their catalogue")
    start = samples.add(
        "import",
        _import,
        "import samples from public accessions (ENA/SRA)",
        "Start one job importing every accession of a CSV sheet (columns accession, "
        "sample_type, and optionally name, organism, project, pubmed and metadata "
        "attribute columns), or one --accession. Prints the job id; --wait follows it.",
    )
    source = start.add_mutually_exclusive_group(required=True)
    source.add_argument("--sheet", type=Path, metavar="SHEET.csv", help="one row per accession")
    source.add_argument("--accession", metavar="ACC", help="one accession, e.g. ERR1160845")
    start.add_argument("--sample-type", metavar="TYPE", help="with --accession")
    start.add_argument("--name", help="with --accession (default: the accession)")
    start.add_argument("--organism", metavar="ID", help="with --accession")
    start.add_argument("--project", metavar="ID", help="with --accession")
    start.add_argument(
        "--metadata", action="append", default=[], metavar="KEY=VALUE", help="(repeatable)"
    )
    start.add_argument("--wait", action="store_true", help="wait for the job to finish")
    start.add_argument("--timeout", type=float, metavar="SECONDS", help="give up waiting after")

    status = samples.add("import-status", _status, "show an import job (exit 1 when it FAILED)")
    status.add_argument("--job-id", required=True, metavar="ID", type=_job_id)


def _job_id(text: str) -> str:
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"job id must be an integer, got {text!r}")
    return text


def read_sheet(path: Path) -> list[SampleImportSpec]:
    """The specs of an accession sheet; structural problems are usage errors naming the row."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            missing = [name for name in ("accession", "sample_type") if name not in header]
            if missing:
                raise CliUsageError(f"{path}: the sheet needs the column(s) {', '.join(missing)}")
            if len(set(header)) != len(header) or not all(header):
                raise CliUsageError(f"{path}: every column needs a unique, non-empty name")
            specs = []
            for number, raw in enumerate(reader, start=2):
                if None in raw and any((extra or "").strip() for extra in raw[None] or []):
                    raise CliUsageError(f"{path}: row {number} has more cells than the header")
                row = {str(k).strip(): (v or "").strip() for k, v in raw.items() if k is not None}
                if not any(row.values()):
                    continue  # a blank line
                for name in ("accession", "sample_type"):
                    if not row.get(name):
                        raise CliUsageError(f"{path}: row {number} has no {name}")
                metadata = {k: v for k, v in row.items() if k not in RESERVED and v}
                specs.append(
                    SampleImportSpec(
                        accession=row["accession"],
                        sample_type=row["sample_type"],
                        name=row.get("name") or None,
                        organism_id=row.get("organism") or None,
                        project_id=row.get("project") or None,
                        pubmed=row.get("pubmed") or None,
                        metadata=metadata or None,
                    )
                )
    except (OSError, UnicodeDecodeError) as exc:
        raise CliUsageError(f"cannot read the sheet {path}: {exc}") from None
    if not specs:
        raise CliUsageError(f"{path}: the sheet has no rows")
    return specs


def _specs(args: Any) -> list[SampleImportSpec]:
    if args.sheet is not None:
        given = [args.sample_type, args.name, args.organism, args.project, *args.metadata]
        if any(given):
            raise CliUsageError("--sample-type, --name, --metadata... go with --accession")
        return read_sheet(args.sheet)
    if not args.sample_type:
        raise CliUsageError("--accession needs --sample-type")
    return [
        SampleImportSpec(
            accession=args.accession,
            sample_type=args.sample_type,
            name=args.name,
            organism_id=args.organism,
            project_id=args.project,
            metadata=parse_metadata(args.metadata) or None,
        )
    ]


def _summary(job: SampleImportJob) -> str:
    if job.completed:
        matched = zip(job.accessions, job.sample_ids, strict=False)
        pairs = ", ".join(f"{a} -> {s}" for a, s in matched)
        return f"Job {job.id}: COMPLETED. Samples: {pairs or 'none'}."
    if job.failed:
        return f"Job {job.id}: FAILED."
    return f"Job {job.id}: {job.status} ({len(job.accessions)} accession(s))."


async def _import(inv: Invocation) -> int:
    args = inv.args
    specs = _specs(args)
    job = await inv.client.samples.import_samples(specs)
    if not args.wait:
        inv.output.result(
            job,
            f"Started import job {job.id} for {len(specs)} accession(s). Check it with "
            f"'flowbio-async samples import-status --job-id {job.id}'.",
        )
        return 0
    inv.output.advisory(f"Started import job {job.id}; waiting for it...")
    job = await inv.client.samples.wait_for_import(
        job, timeout=args.timeout, raise_on_failure=False
    )
    return _report(inv, job)


async def _status(inv: Invocation) -> int:
    return _report(inv, await inv.client.samples.get_import(inv.args.job_id))


def _report(inv: Invocation, job: SampleImportJob) -> int:
    if job.failed:
        inv.output.advisory(f"Job {job.id} failed: {job.error or 'no error message returned'}")
    inv.output.result(job, _summary(job))
    return int(ExitCode.RUNTIME) if job.failed else 0
