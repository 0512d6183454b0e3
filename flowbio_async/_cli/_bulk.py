"""``bulk-download``: one zip archive of many data files, built server-side (docs/protocol.md §5.3).

The job id is announced on stderr as soon as the job exists, so an interrupted run (Ctrl-C
while waiting or while fetching the archive) is continued with ``--job ID`` instead of
building a second archive; the archive download itself resumes like any other.
"""

from __future__ import annotations

from pathlib import Path

from flowbio_async._cli._command import Invocation, Verbs
from flowbio_async._cli._exit import CliUsageError
from flowbio_async._errors import DestinationExistsError


def register(verbs: Verbs) -> None:
    """Add ``bulk-download``."""
    bulk = verbs.add(
        "bulk-download",
        _bulk_download,
        "download many data files as one server-built archive",
        "Ask the server to zip the data files, wait for the archive (showing the server's "
        "progress), download it into --dest and optionally extract it there safely.",
    )
    bulk.add_argument("data_ids", nargs="*", metavar="DATA_ID", help="data ids")
    bulk.add_argument("--job", metavar="ID", help="continue an existing job instead")
    bulk.add_argument("--name", metavar="NAME", help="archive name, e.g. bundle.zip")
    bulk.add_argument(
        "--dest", type=Path, default=Path(), metavar="DIR", help="directory (default .)"
    )
    bulk.add_argument(
        "--extract",
        action="store_true",
        help="unpack the archive into --dest, then delete it (files already there with the "
        "same bytes are skipped, so a rerun succeeds; the archive is kept if unpacking fails)",
    )
    bulk.add_argument(
        "--overwrite",
        action="store_true",
        help="download again even when complete, and replace files that differ when extracting",
    )
    bulk.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="give up waiting for the job after this"
    )


async def _bulk_download(inv: Invocation) -> int:
    args = inv.args
    downloads = inv.client.downloads
    if bool(args.data_ids) == bool(args.job):
        raise CliUsageError("give DATA_IDs or --job ID (one of the two)")
    if args.job:
        job = await downloads.status(args.job)
    else:
        job = await downloads.create(args.data_ids, name=args.name)
        inv.output.advisory(
            f"bulk job {job.id} created; if interrupted, continue with --job {job.id}"
        )
    try:
        done = await downloads.finish(
            job,
            f"{args.dest}/",
            extract=args.extract,
            overwrite=args.overwrite,
            timeout=args.timeout,
        )
    except TimeoutError:
        raise TimeoutError(
            f"bulk job {job.id} was not ready after {args.timeout} s; "
            f"continue later with --job {job.id}"
        ) from None
    except DestinationExistsError as exc:
        if not args.extract or args.overwrite:
            raise
        # The archive is kept: replacing the files reuses this job, no second archive (#17).
        raise DestinationExistsError(
            f"{exc}; to replace them, continue with --job {job.id} --extract --overwrite"
        ) from exc
    lines = [f"Job {done.job.id}: {done.archive.path} ({done.archive.size} bytes)"]
    if args.extract:
        lines = [_extracted(done.job.id, len(done.files), len(done.skipped), args.dest)]
        kept = set(done.skipped)
        lines += [
            f"  {path}{' (already there, same bytes)' if path in kept else ''}"
            for path in done.files
        ]
    inv.output.result(done, "\n".join(lines))
    return 0


def _extracted(job: str, files: int, skipped: int, dest: Path) -> str:
    """``Job J: extracted 3 files into d (1 already there with the same bytes, skipped)``."""
    line = f"Job {job}: extracted {files} files into {dest}"
    if skipped:
        line += f" ({skipped} already there with the same bytes, skipped)"
    return line
