"""Upload a folder of FASTQ files concurrently, one result per file (docs/uploading.md).

Writes eight small FASTQ files into ``run42/`` and uploads them all at once; at most
``ClientConfig.max_concurrency`` are in flight, and one failure does not stop the others::

    FLOW_API_URL=http://127.0.0.1:8000/api FLOW_USERNAME=demo FLOW_PASSWORD=demo-password \
        python examples/upload_folder.py
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import anyio

from flowbio_async import AsyncClient, ClientConfig, UsernamePasswordCredentials


def make_run(folder: Path, files: int = 8) -> list[Path]:
    folder.mkdir(exist_ok=True)
    rng = random.Random(42)
    paths = []
    for n in range(files):
        path = folder / f"cell_{n:02d}.fastq"
        reads = (
            f"@r{i}\n{''.join(rng.choices('ACGT', k=50))}\n+\n{'I' * 50}\n" for i in range(500)
        )
        path.write_text("".join(reads))
        paths.append(path)
    return paths


async def main() -> None:
    paths = make_run(Path("run42"))
    config = ClientConfig(show_progress=False, max_concurrency=4)
    async with AsyncClient(config=config) as client:
        await client.log_in(
            UsernamePasswordCredentials(
                username=os.environ["FLOW_USERNAME"], password=os.environ["FLOW_PASSWORD"]
            )
        )
        results = await client.data.upload_many(sorted(paths), data_type="fastq")
        for result in results:
            if result.ok:
                print(f"{result.item.name}: data {result.unwrap().id}")
            else:
                print(f"{result.item.name}: FAILED {result.error}")
        failed = sum(not r.ok for r in results)
        print(f"{len(results) - failed} uploaded, {failed} failed")
        if failed:
            raise SystemExit(1)


if __name__ == "__main__":
    anyio.run(main)
