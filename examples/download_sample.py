"""Download every file of a sample into ``downloads/samples/<name>/`` (docs/downloading.md).

Files go concurrently (at most ``max_concurrency`` at once); a JSON-lines log records each
one, as seed 002's "Log Downloads" suggests::

    FLOW_API_URL=http://127.0.0.1:8000/api FLOW_USERNAME=demo FLOW_PASSWORD=demo-password \
        python examples/download_sample.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import anyio

from flowbio_async import AsyncClient, ClientConfig, UsernamePasswordCredentials


async def main() -> None:
    config = ClientConfig(show_progress=False, files_url=os.environ.get("FLOW_FILES_URL"))
    async with AsyncClient(config=config) as client:
        await client.log_in(
            UsernamePasswordCredentials(
                username=os.environ["FLOW_USERNAME"], password=os.environ["FLOW_PASSWORD"]
            )
        )
        sample = await client.samples.search(name="liver_1").at(0)
        report = await client.samples.download(
            sample.id, "downloads", include="*.fastq.gz", log="downloads/log.jsonl"
        )
        for item in report:
            if item.value is not None:
                print(f"{item.value.status:>10}  {item.value.path}")
            else:
                print(f"{'failed':>10}  {item.item.filename}: {item.error}")
        report.raise_for_failures()


def show_log(path: Path) -> None:
    logged = [json.loads(line) for line in path.read_text().splitlines()]
    print(f"{len(logged)} lines in {path}, with keys {sorted(logged[0])}")


if __name__ == "__main__":
    anyio.run(main)
    show_log(Path("downloads/log.jsonl"))
