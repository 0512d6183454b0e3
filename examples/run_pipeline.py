"""Upload reads, run the RNA-Seq pipeline on them, watch it, download the results
(docs/pipelines.md).

Uploads a paired-end sample, runs the latest RNA-Seq version on it, follows the run to its
end with live status, step and log lines, then downloads every output under
``downloads/executions/<id>/`` keeping the pipeline's folders::

    FLOW_API_URL=http://127.0.0.1:8000/api FLOW_USERNAME=demo FLOW_PASSWORD=demo-password \
        python examples/run_pipeline.py
"""

from __future__ import annotations

import gzip
import os
import random
from pathlib import Path
from typing import Any

import anyio

from flowbio_async import (
    AsyncClient,
    ClientConfig,
    DownloadReport,
    ExecutionUpdate,
    UsernamePasswordCredentials,
)

#: Flow's in-flight statuses as words (docs/pipelines.md); terminal ones are OK, ERROR, CANCELED.
STATUS_WORDS = {"": "queued", "-": "running"}


def write_reads(path: Path, seed: int, count: int = 500) -> Path:
    """Gzipped FASTQ with ``count`` random 76-base reads."""
    rng = random.Random(seed)
    records = []
    for index in range(count):
        bases = "".join(rng.choices("ACGT", k=76))
        records.append(f"@kidney.{index}/{seed}\n{bases}\n+\n{'F' * 76}\n")
    path.write_bytes(gzip.compress("".join(records).encode(), mtime=0))
    return path


def show(update: ExecutionUpdate) -> None:
    """One line per status change or step, and the new log lines."""
    if update.kind == "status":
        print(f"status  {STATUS_WORDS.get(update.status, update.status)}")
    elif update.kind == "process" and update.process is not None:
        print(f"step    {update.process.name}: {update.process.status}")
    else:
        for line in update.text.splitlines():
            print(f"log     {line[:100]}")


def check_layout(report: DownloadReport[Any], folder: Path) -> None:
    """Every output saved under ``folder``, in the pipeline's own folders."""
    report.raise_for_failures()
    for item in report.done:
        assert item.value is not None
        print(f"saved {item.value.path}")
    assert (folder / "results" / "counts").is_dir(), "the pipeline's folders are kept"


async def main() -> None:
    config = ClientConfig(show_progress=False, files_url=os.environ.get("FLOW_FILES_URL"))
    async with AsyncClient(config=config) as client:
        await client.log_in(
            UsernamePasswordCredentials(
                username=os.environ["FLOW_USERNAME"], password=os.environ["FLOW_PASSWORD"]
            )
        )
        # 1. Upload a paired-end sample.
        sample = await client.samples.upload_sample(
            name="kidney_pipeline_example",
            sample_type="RNA-Seq",
            data={
                "reads1": write_reads(Path("kidney_R1.fastq.gz"), seed=11),
                "reads2": write_reads(Path("kidney_R2.fastq.gz"), seed=12),
            },
            metadata={"scientist": "Barbara McClintock", "strandedness": "reverse"},
            organism_id="Hs",
        )
        print(f"uploaded sample {sample.id} ({sample.name})")

        # 2. Find the pipeline (its latest version) and see what it asks for.
        version = await client.pipelines.find("RNA-Seq")
        required = [name for name, param, _ in version.run_schema.params() if param.required]
        print(f"RNA-Seq {version.name}: required params {', '.join(required)}")

        # 3. Run it: the sample fills the samplesheet, defaults fill the rest.
        execution = await client.pipelines.run(
            version, samples=[sample], params={"genome": "GRCh38"}
        )
        print(f"started execution {execution.id}: {client.executions.web_url(execution)}")

        # 4. Watch it to the end: status changes, steps, and the log as it grows.
        async for update in client.executions.watch(execution, poll_interval=0.5):
            show(update)
            if update.is_final:
                execution = update.execution
        assert execution.succeeded, execution.status  # watch raises for ERROR/CANCELED
        print(f"finished {execution.status}: {len(execution.outputs)} output files")

        # 5. Download every output, keeping the pipeline's folders.
        folder = Path("downloads") / "executions" / execution.id
        check_layout(await client.executions.download_outputs(execution.id, folder), folder)


if __name__ == "__main__":
    anyio.run(main)
