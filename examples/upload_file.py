"""Upload one file: chunked, resumable, with a progress callback (docs/uploading.md).

Creates a small ``counts.tsv`` in the working directory, uploads it under another name and
prints the new data id::

    FLOW_API_URL=http://127.0.0.1:8000/api FLOW_USERNAME=demo FLOW_PASSWORD=demo-password \
        python examples/upload_file.py
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio

from flowbio_async import AsyncClient, ClientConfig, ProgressEvent, UsernamePasswordCredentials


def make_counts(path: Path, genes: int = 20_000) -> Path:
    lines = ["gene\tcount"] + [f"GENE{i:05d}\t{(i * 7919) % 1000}" for i in range(genes)]
    path.write_text("\n".join(lines) + "\n")
    return path


def report(event: ProgressEvent) -> None:
    # A program-friendly hook: every change, in bytes, on the event loop.
    if event.kind == "finish":
        print(f"{event.description}: {event.completed} of {event.total} bytes sent")


async def main() -> None:
    counts = make_counts(Path("counts.tsv"))
    async with AsyncClient(config=ClientConfig(show_progress=False)) as client:
        await client.log_in(
            UsernamePasswordCredentials(
                username=os.environ["FLOW_USERNAME"], password=os.environ["FLOW_PASSWORD"]
            )
        )
        # The stored name may differ from the local one; it must not contain spaces.
        data = await client.data.upload_data(
            counts, filename="experiment_42_counts.tsv", progress=report
        )
        print(f"Uploaded {counts.name} as data {data.id} ({data.filename}, {data.size} bytes)")


if __name__ == "__main__":
    anyio.run(main)
