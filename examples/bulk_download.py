"""Bulk download: the server zips files, we poll, fetch the archive and extract it safely.

Follows seed 002's job lifecycle (pending → processing → completed, expired after 24 h)::

    FLOW_API_URL=http://127.0.0.1:8000/api FLOW_USERNAME=demo FLOW_PASSWORD=demo-password \
        python examples/bulk_download.py
"""

from __future__ import annotations

import os

import anyio

from flowbio_async import (
    ArchiveLimitError,
    AsyncClient,
    BulkDownloadFailedError,
    ClientConfig,
    GoneError,
    ProgressEvent,
    UsernamePasswordCredentials,
)


def on_progress(event: ProgressEvent) -> None:
    # The bulk task reports the server's percentage (total=100); the archive reports bytes.
    if event.task_id.startswith("bulk-") and event.kind in {"reset", "finish"}:
        print(f"  job {event.completed}%")


async def main() -> None:
    config = ClientConfig(
        show_progress=False,
        files_url=os.environ.get("FLOW_FILES_URL"),
        bulk_poll_interval=0.2,
        # Extraction refuses archives that would expand past these (a zip bomb) before
        # writing anything; raise them for genuinely huge or very compressible datasets.
        archive_max_bytes=50 * 2**30,
        archive_max_ratio=100,
    )
    async with AsyncClient(config=config) as client:
        await client.log_in(
            UsernamePasswordCredentials(
                username=os.environ["FLOW_USERNAME"], password=os.environ["FLOW_PASSWORD"]
            )
        )
        # ``await listing`` gives every match; the first page of 4 is all this needs.
        fastqs = await client.data.search(
            filename=".fastq.gz", owned=True, page_size=4
        ).first_page()
        ids = [data.id for data in fastqs]

        job = await client.downloads.create(ids, name="my_dataset.zip")
        print(f"job {job.id}: {job.status}")
        try:
            done = await client.downloads.finish(
                job, "dataset", extract=True, timeout=120, progress=on_progress
            )
        except BulkDownloadFailedError as exc:
            raise SystemExit(f"the server could not build the archive: {exc}") from None
        except GoneError:
            raise SystemExit("the archive expired; create a new job") from None
        except ArchiveLimitError as exc:
            raise SystemExit(f"not extracted, the archive is kept in dataset/: {exc}") from None
        print(f"{done.job.status}: {len(done.files)} files extracted into dataset/")
        for path in done.files:
            print(f"  {path}")


if __name__ == "__main__":
    anyio.run(main)
