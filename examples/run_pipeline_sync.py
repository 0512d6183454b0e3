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

from run_pipeline import check_layout, show, write_reads  # shared with the async example

from flowbio_sync import Client, ClientConfig, ExecutionError, UsernamePasswordCredentials


def main() -> None:
    config = ClientConfig(show_progress=False, files_url=os.environ.get("FLOW_FILES_URL"))
    with Client(config=config) as client:
        client.log_in(
            UsernamePasswordCredentials(
                username=os.environ["FLOW_USERNAME"], password=os.environ["FLOW_PASSWORD"]
            )
        )
        # 1. Upload a paired-end sample: the same call as the async client's, without await.
        reads = {
            "reads1": write_reads(Path("kidney_R1.fastq.gz"), seed=21),
            "reads2": write_reads(Path("kidney_R2.fastq.gz"), seed=22),
        }
        metadata = {"scientist": "Rosalind Franklin", "strandedness": "reverse"}
        sample = client.samples.upload_sample(
            "kidney_pipeline_sync_example", "RNA-Seq", reads, metadata=metadata, organism_id="Hs"
        )
        print(f"uploaded sample {sample.id} ({sample.name})")

        # 2. Run the latest RNA-Seq version on it.
        version = client.pipelines.find("RNA-Seq")
        execution = client.pipelines.run(version, samples=[sample], params={"genome": "GRCh38"})
        print(f"started execution {execution.id}: {client.executions.web_url(execution)}")

        # 3. Watch it to the end (a plain iterator); a run that ends in ERROR or CANCELED raises.
        try:
            for update in client.executions.watch(execution, poll_interval=0.5):
                show(update)
                execution = update.execution
        except ExecutionError as failed:
            raise SystemExit(f"the run did not end OK: {failed}") from None
        print(f"finished {execution.status}: {len(execution.outputs)} output files")

        # 4. Download every output, keeping the pipeline's folders.
        folder = Path("downloads") / "executions" / execution.id
        check_layout(client.executions.download_outputs(execution.id, folder), folder)


if __name__ == "__main__":
    main()
