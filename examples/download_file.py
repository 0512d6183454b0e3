"""Download one data file: streamed to disk, md5-verified, resumable (docs/downloading.md).

Finds one of the demo user's FASTQ files, downloads it into ``downloads/`` and downloads it
again to show that a complete copy is skipped::

    FLOW_API_URL=http://127.0.0.1:8000/api FLOW_USERNAME=demo FLOW_PASSWORD=demo-password \
        python examples/download_file.py
"""

from __future__ import annotations

import os

import anyio

from flowbio_async import AsyncClient, ClientConfig, UsernamePasswordCredentials


async def main() -> None:
    # FLOW_FILES_URL (optional) points downloads at the files server (docs/protocol.md §5.1).
    config = ClientConfig(show_progress=False, files_url=os.environ.get("FLOW_FILES_URL"))
    async with AsyncClient(config=config) as client:
        await client.log_in(
            UsernamePasswordCredentials(
                username=os.environ["FLOW_USERNAME"], password=os.environ["FLOW_PASSWORD"]
            )
        )
        first = await client.data.search(filename=".fastq.gz", owned=True).at(0)  # one page
        data = await client.data.get(first.id)  # the record with md5, when Flow has it
        print(f"{data.filename}: {data.size} bytes, md5 {data.md5}")

        result = await client.data.download(data, "downloads/")
        print(f"{result.status}: {result.path} ({result.size} bytes, md5 {result.md5})")
        assert result.path.stat().st_size == data.size

        again = await client.data.download(data, "downloads/")
        print(f"second call: {again.status}")  # "skipped": the complete copy is kept


if __name__ == "__main__":
    anyio.run(main)
