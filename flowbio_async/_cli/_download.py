"""``download``: data files by id, or every file of a sample, project or execution (#6).

Downloads stream into part files and resume where they stopped: after Ctrl-C (exit 130)
the same command continues, and files already complete are skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowbio_async._cli._batch import report_items
from flowbio_async._cli._command import Invocation, Verbs
from flowbio_async._cli._data import add_concurrency
from flowbio_async._cli._exit import CliUsageError
from flowbio_async._transfers._many import ItemResult

DOWNLOAD_COLUMNS = [("item", "ID"), ("status", "Status"), ("size", "Bytes"), ("path", "Path")]


def register(verbs: Verbs) -> None:
    """Add ``download``."""
    download = verbs.add(
        "download",
        _download,
        "download data files (resumable; many at once)",
        "Download data files by id into --dest. Interrupted downloads resume when the same "
        "command is run again; complete files are skipped.",
    )
    download.add_argument("data_ids", nargs="*", metavar="DATA_ID", help="data ids")
    download.add_argument(
        "--dest", type=Path, default=Path(), metavar="DIR", help="directory (default .)"
    )
    download.add_argument(
        "--overwrite", action="store_true", help="download again even when complete"
    )
    add_concurrency(download, "downloads")


def _describe(item: Any, result: Any) -> dict[str, Any]:
    return {
        "item": str(item),
        "status": result.status,
        "size": result.size,
        "path": str(result.path),
        "md5": result.md5,
        "resumed_from": result.resumed_from,
    }


async def _download(inv: Invocation) -> int:
    args = inv.args
    ids: list[str] = args.data_ids
    if not ids:
        raise CliUsageError("give at least one DATA_ID")
    dest: Path = args.dest
    data = inv.client.data
    if len(ids) == 1:
        # One file: its error is the command's error (exit 4 for an unknown id...).
        result = await data.download(ids[0], f"{dest}/", overwrite=args.overwrite)
        return report_items(
            inv.output, [ItemResult(ids[0], value=result)], DOWNLOAD_COLUMNS, _describe
        )
    report = await data.download_many(ids, dest, overwrite=args.overwrite)
    return report_items(inv.output, list(report), DOWNLOAD_COLUMNS, _describe)
