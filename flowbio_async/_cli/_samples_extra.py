"""``samples upload-multiplexed``, ``annotation-template`` and ``batch-template`` (#17 item 8).

The three verbs the official ``flowbio`` CLI has beside ``upload`` and ``upload-batch``, with
its flags: multiplexed reads with their annotation sheet (the sheet goes first, so a bad one
costs no reads upload), the server's annotation sheet template (``.xlsx``), and a CSV header
for ``upload-batch`` built from the server's metadata attributes for one sample type.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowbio_async._cli._command import Invocation, Verbs
from flowbio_async._cli._credentials import Auth
from flowbio_async._cli._exit import CliUsageError
from flowbio_async._cli._output import format_issue
from flowbio_async._sample_rules import attribute_applies, attribute_required, type_problem


def register(samples: Verbs) -> None:
    """Add the three verbs to the ``samples`` group."""
    multiplexed = samples.add(
        "upload-multiplexed",
        _upload_multiplexed,
        "upload multiplexed reads with an annotation sheet",
        "Upload multiplexed reads (reads1 [+ reads2]) with a completed annotation sheet "
        "(.csv or .xlsx, see `samples annotation-template`) for server-side demultiplexing. "
        "The sheet is uploaded and checked first, so a refused sheet costs no reads upload.",
    )
    multiplexed.add_argument("--reads1", required=True, type=Path, metavar="PATH")
    multiplexed.add_argument("--reads2", type=Path, metavar="PATH", help="paired-end reads")
    multiplexed.add_argument(
        "--annotation", required=True, type=Path, metavar="PATH", help="the annotation sheet"
    )
    multiplexed.add_argument(
        "--reject-warnings",
        action="store_true",
        help="refuse the upload when the sheet has warnings (default: accept and list them)",
    )

    template = samples.add(
        "annotation-template",
        _annotation_template,
        "download the annotation sheet template (.xlsx)",
        "Download the server's annotation sheet template (.xlsx) for a sample type, to fill "
        "in before `samples upload-multiplexed`.",
        auth=Auth.OPTIONAL,
    )
    template.add_argument(
        "--sample-type",
        default="generic",
        metavar="TYPE",
        help="sample type (default generic: the columns every type has)",
    )
    template.add_argument("-o", "--output", required=True, type=Path, metavar="PATH")
    template.add_argument("--overwrite", action="store_true", help="replace an existing file")

    batch = samples.add(
        "batch-template",
        _batch_template,
        "print a CSV sample-sheet header for upload-batch",
        "Print the CSV header of a sample sheet for `samples upload-batch` (or write it with "
        "-o): name, reads1, reads2, project, organism and one column per metadata attribute "
        "of the sample type. Which columns are required is listed on stderr; under --json "
        "stdout is one descriptor per column.",
        auth=Auth.OPTIONAL,
    )
    batch.add_argument("--sample-type", required=True, metavar="TYPE")
    batch.add_argument("-o", "--output", type=Path, metavar="PATH", help="write the header here")
    batch.add_argument("--overwrite", action="store_true", help="replace an existing file")


def write_new_file(path: Path, content: bytes, *, overwrite: bool) -> None:
    """Write ``content`` to ``path`` whole (a part file renamed), never replacing silently."""
    if path.is_dir():
        raise CliUsageError(f"{path} is a directory; give a file name with -o")
    if path.exists() and not overwrite:
        raise CliUsageError(f"{path} already exists; pass --overwrite to replace it")
    part = path.with_name(f".{path.name}.part")
    try:
        part.write_bytes(content)
        part.replace(path)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise CliUsageError(f"cannot write {path}: {exc.strerror or exc}") from None


async def _upload_multiplexed(inv: Invocation) -> int:
    args = inv.args
    reads = {"reads1": args.reads1}
    if args.reads2 is not None:
        reads["reads2"] = args.reads2
    done = await inv.client.samples.upload_multiplexed_data(
        reads, args.annotation, ignore_warnings=not args.reject_warnings
    )
    for warning in done.warnings:
        inv.output.advisory(f"accepted warning: {format_issue(warning)}")
    document = {
        "data_ids": done.data_ids,
        "annotation_id": done.annotation_id,
        "warnings": done.warnings,
    }
    human = (
        f"Uploaded multiplexed data {', '.join(done.data_ids)} with annotation {done.annotation_id}"
    )
    inv.output.result(document, human)
    return 0


async def _annotation_template(inv: Invocation) -> int:
    args = inv.args
    template = await inv.client.samples.get_annotation_template(args.sample_type)
    write_new_file(args.output, template, overwrite=args.overwrite)
    inv.output.result(
        {"output": str(args.output), "sample_type": args.sample_type, "size": len(template)},
        f"Wrote the {args.sample_type} annotation template to {args.output}",
    )
    return 0


@dataclass(frozen=True)
class Column:
    """One column of a sample-sheet template, as ``--json`` describes it."""

    name: str
    kind: str
    required: bool
    options: list[str] | None
    description: str


RESERVED = (
    Column("name", "reserved", True, None, "Unique sample name (no spaces)."),
    Column("reads1", "reserved", True, None, "Path to the first reads file."),
    Column("reads2", "reserved", False, None, "Path to the second reads file (paired-end)."),
    Column("project", "reserved", False, None, "Id of a project you own to add the sample to."),
    Column("organism", "reserved", False, None, "Organism id, e.g. Hs (see `organisms`)."),
)


async def _batch_template(inv: Invocation) -> int:
    args = inv.args
    sample_type: str = args.sample_type
    catalogue = await inv.client.samples.sample_catalogue()
    problem = type_problem(sample_type, catalogue.types)
    if problem is not None:
        raise CliUsageError(problem)
    columns = list(RESERVED)
    for attribute in catalogue.attributes or []:
        if attribute_applies(attribute, sample_type):
            columns.append(
                Column(
                    name=attribute.identifier,
                    kind="metadata",
                    required=attribute_required(attribute, sample_type),
                    options=attribute.options,
                    description=attribute.description or attribute.name,
                )
            )
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([c.name for c in columns])
    header = buffer.getvalue()
    if args.output is not None:
        write_new_file(args.output, header.encode(), overwrite=args.overwrite)
        inv.output.advisory(f"Wrote the {sample_type} sample-sheet template to {args.output}")
    descriptors: list[dict[str, Any]] = [vars(c) for c in columns]
    if inv.output.json_mode or args.output is None:
        inv.output.result(descriptors, header.rstrip("\n"))
    required = [c.name for c in columns if c.required]
    optional = [c.name for c in columns if not c.required]
    inv.output.advisory(f"required columns: {', '.join(required)}")
    inv.output.advisory(f"optional columns: {', '.join(optional)}")
    inv.output.advisory(f"then: samples upload-batch SHEET --sample-type {sample_type}")
    return 0
