"""``examples/run_pipeline.py`` without ``await``: the same flow through ``flowbio_sync``
(docs/pipelines.md).

Uploads a paired-end sample, runs the latest RNA-Seq version on it, follows the run to its
end (``watch`` is a plain iterator here), then downloads every output under
``downloads/executions/<id>/`` keeping the pipeline's folders::

    FLOW_API_URL=http://127.0.0.1:8000/api FLOW_USERNAME=demo FLOW_PASSWORD=demo-password \
        python examples/run_pipeline_sync.py
"""

from __future__ import annotations

import os
from pathlib import Path

from run_pipeline import STATUS_WORDS, write_reads  # the same reads and status words

from flowbio_sync import Client, ClientConfig, ExecutionError, UsernamePasswordCredentials


def main() -> None:
    config = ClientConfig(show_progress=False, files_url=os.environ.get("FLOW_FILES_URL"))
    with Client(config=config) as client:
        client.log_in(
            UsernamePasswordCredentials(
                username=os.environ["FLOW_USERNAME"], password=os.environ["FLOW_PASSWORD"]
            )
        )
        # 1. Upload a paired-end sample.
        sample = client.samples.upload_sample(
            name="kidney_pipeline_sync_example",
            sample_type="RNA-Seq",
            data={
                "reads1": write_reads(Path("kidney_R1.fastq.gz"), seed=21),
                "reads2": write_reads(Path("kidney_R2.fastq.gz"), seed=22),
            },
            metadata={"scientist": "Rosalind Franklin", "strandedness": "reverse"},
            organism_id="Hs",
        )
        print(f"uploaded sample {sample.id} ({sample.name})")

        # 2. Run the latest RNA-Seq version on it.
        version = client.pipelines.find("RNA-Seq")
        execution = client.pipelines.run(version, samples=[sample], params={"genome": "GRCh38"})
        print(f"started execution {execution.id}: {client.executions.web_url(execution)}")

        # 3. Watch it to the end. A run that ends in ERROR or CANCELED raises.
        try:
            for update in client.executions.watch(execution, poll_interval=0.5):
                if update.kind == "status":
                    print(f"status  {STATUS_WORDS.get(update.status, update.status)}")
                elif update.kind == "process" and update.process is not None:
                    print(f"step    {update.process.name}: {update.process.status}")
                else:
                    for line in update.text.splitlines():
                        print(f"log     {line[:100]}")
                execution = update.execution
        except ExecutionError as failed:
            raise SystemExit(f"the run failed: {failed}") from None
        print(f"finished {execution.status}: {len(execution.outputs)} output files")

        # 4. Download every output, keeping the pipeline's folders.
        folder = Path("downloads") / "executions" / execution.id
        report = client.executions.download_outputs(execution.id, folder)
        report.raise_for_failures()
        for item in report.done:
            assert item.value is not None
            print(f"saved {item.value.path}")
        assert (folder / "results" / "counts").is_dir(), "the pipeline's folders are kept"


if __name__ == "__main__":
    main()
