"""Upload a paired-end sample: reads1 and reads2 become one sample (docs/uploading.md).

Writes two small gzipped FASTQ files, shows that a sample Flow would refuse is caught before
any byte is sent, then creates an RNA-Seq sample from them with the metadata the sample type
requires::

    FLOW_API_URL=http://127.0.0.1:8000/api FLOW_USERNAME=demo FLOW_PASSWORD=demo-password \
        python examples/upload_paired_sample.py
"""

from __future__ import annotations

import gzip
import os
import random
from pathlib import Path

import anyio

from flowbio_async import (
    AsyncClient,
    ClientConfig,
    InvalidSampleError,
    UsernamePasswordCredentials,
)


def make_fastq(path: Path, seed: int, reads: int = 2000, length: int = 76) -> Path:
    rng = random.Random(seed)
    with gzip.open(path, "wt") as handle:
        for n in range(reads):
            bases = "".join(rng.choice("ACGT") for _ in range(length))
            handle.write(f"@read{n}/{seed}\n{bases}\n+\n{'I' * length}\n")
    return path


async def main() -> None:
    reads1 = make_fastq(Path("liver_R1.fastq.gz"), seed=1)
    reads2 = make_fastq(Path("liver_R2.fastq.gz"), seed=2)
    async with AsyncClient(config=ClientConfig(show_progress=False)) as client:
        await client.log_in(
            UsernamePasswordCredentials(
                username=os.environ["FLOW_USERNAME"], password=os.environ["FLOW_PASSWORD"]
            )
        )
        required = [
            attribute.identifier
            for attribute in await client.samples.get_metadata_attributes()
            if attribute.required or "RNA-Seq" in attribute.required_for_sample_types
        ]
        print(f"RNA-Seq needs: {', '.join(required)}")
        try:  # a typo in the sample type: refused before sending, naming the valid ones
            await client.samples.upload_sample(
                "liver_example", "RNASeq", {"reads1": reads1, "reads2": reads2}
            )
        except InvalidSampleError as refused:
            for problem in refused.problems:
                print(f"refused before sending: {problem}")
        sample = await client.samples.upload_sample(
            name="liver_example",
            sample_type="RNA-Seq",
            data={"reads1": reads1, "reads2": reads2},
            metadata={"scientist": "Rosalind Franklin", "strandedness": "reverse"},
            organism_id="Hs",
        )
        print(f"Created sample {sample.id} ({sample.name}) from {reads1.name} + {reads2.name}")
        # The result is the sample as `get` shows it: project, organism, type, metadata.
        assert sample.organism is not None and sample.sample_type is not None
        print(f"  organism {sample.organism.id}, type {sample.sample_type.identifier}")


if __name__ == "__main__":
    anyio.run(main)
