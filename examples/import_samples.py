"""Import samples from public accessions (ENA/SRA), wait for the job, look at the samples.

Run against the local server (``make demo`` does this for you)::

    FLOW_API_URL=http://127.0.0.1:8000/api FLOW_USERNAME=demo FLOW_PASSWORD=demo-password \
        python examples/import_samples.py
"""

from __future__ import annotations

import os

import anyio

from flowbio_async import (
    AsyncClient,
    ClientConfig,
    SampleImportSpec,
    UnprocessableError,
    UsernamePasswordCredentials,
)

METADATA = {"scientist": "Ada Lovelace", "strandedness": "reverse"}


async def main() -> None:
    async with AsyncClient(config=ClientConfig(show_progress=False)) as client:
        await client.log_in(
            UsernamePasswordCredentials(
                username=os.environ["FLOW_USERNAME"], password=os.environ["FLOW_PASSWORD"]
            )
        )
        # A spec the server refuses names the field, and starts no job.
        try:
            await client.samples.import_samples([SampleImportSpec("PRJ-1", "RNA-Seq")])
        except UnprocessableError as exc:
            for detail in exc.details or []:
                print(f"Refused: {detail['pointer']}: {detail['detail']}")

        job = await client.samples.import_samples(
            [
                SampleImportSpec("ERR1160845", "RNA-Seq", organism_id="Hs", metadata=METADATA),
                SampleImportSpec("SRR5678901", "RNA-Seq", name="kidney_2", metadata=METADATA),
            ]
        )
        print(f"Import job {job.id}: {job.status}")
        job = await client.samples.wait_for_import(job, poll_interval=0.5, timeout=300)
        for accession, sample_id in zip(job.accessions, job.sample_ids, strict=True):
            sample = await client.samples.get(sample_id)
            files = [data.filename or "" async for data in client.samples.get_data(sample_id)]
            print(f"{accession} -> sample {sample.id} {sample.name}: {', '.join(sorted(files))}")


if __name__ == "__main__":
    anyio.run(main)
