"""``data upload PATH...``: chunked, resumable uploads of generic data files (issue #6)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from flowbio_async._cli._batch import report_items
from flowbio_async._cli._command import Invocation, Verbs
from flowbio_async._cli._exit import CliUsageError
from flowbio_async._errors import ConfigurationError, FlowError
from flowbio_async._models._data import Data
from flowbio_async._transfers._many import ItemResult

DATA_COLUMNS = [("id", "Data ID"), ("filename", "Filename"), ("size", "Bytes"), ("path", "Path")]


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def add_concurrency(parser: argparse.ArgumentParser, what: str) -> None:
    """``--concurrency N``: the client-wide transfer limit for this run."""
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        metavar="N",
        help=f"{what} in flight at once (default 8)",
    )


def register(verbs: Verbs) -> None:
    """Add ``data upload``."""
    upload = verbs.group("data", "generic data files").add(
        "upload",
        _upload,
        "upload data files (resumable; many at once)",
        "Upload one or more files as generic data. An interrupted upload continues where it "
        "stopped when the same command is run again.",
    )
    upload.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files to upload")
    upload.add_argument(
        "--filename", metavar="NAME", help="store under this name (one PATH only; no spaces)"
    )
    upload.add_argument("--data-type", metavar="ID", help="data type identifier, e.g. bam")
    upload.add_argument(
        "--directory",
        action="store_true",
        help="each PATH is an archive (.zip/.tar/.tar.gz) the server unpacks",
    )
    upload.add_argument(
        "--stop-on-error",
        action="store_true",
        help="start no further file after the first failed upload (files already uploading "
        "finish); the files never started are reported",
    )
    add_concurrency(upload, "uploads")


def _describe(path: Path, data: Any) -> dict[str, Any]:
    # The local path wins over the record's own (server-side) `path` field.
    return {**data.model_dump(mode="json"), "path": str(path)}


async def _upload(inv: Invocation) -> int:
    args = inv.args
    paths: list[Path] = args.paths
    if args.filename is not None and len(paths) > 1:
        raise CliUsageError("--filename needs exactly one PATH")
    results: list[ItemResult[Path, Data]]
    if len(paths) == 1:
        # One file: upload_data, which also takes the --filename override. Bad input is the
        # command's (usage) error, as for many paths; a failed upload is reported per item
        # in the same document as for many paths (#17 item 8).
        try:
            data = await inv.client.data.upload_data(
                paths[0], args.filename, args.data_type, args.directory
            )
            results = [ItemResult(paths[0], value=data)]
        except ConfigurationError:
            raise
        except FlowError as exc:
            results = [ItemResult(paths[0], error=exc)]
    else:
        results = await inv.client.data.upload_many(
            paths, args.data_type, is_directory=args.directory, stop_on_error=args.stop_on_error
        )
    return report_items(inv.output, results, DATA_COLUMNS, _describe)
