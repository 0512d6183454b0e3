"""``examples/run_pipeline.py`` from the shell: the same flow with the ``flowbio-async``
command (docs/cli.md#pipelines-and-executions).

With a token in the environment (as a batch job has it, see ``cli_round_trip.py``), runs::

    flowbio-async --json samples upload --name ... --reads1 R1.fastq.gz --reads2 R2.fastq.gz
    flowbio-async run RNA-Seq --sample <id> --params-file params.yaml
    flowbio-async executions watch <id>             # log on stdout, steps on stderr, live
    flowbio-async --json download --execution <id> --dest downloads/

and checks that the outputs landed under ``downloads/executions/<id>/`` in the pipeline's
folders::

    FLOW_API_URL=http://127.0.0.1:8000/api FLOW_USERNAME=demo FLOW_PASSWORD=demo-password \
        python examples/run_pipeline_cli.py
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from cli_round_trip import access_token, flowbio_async  # POST /login; run the command
from run_pipeline import write_reads  # the same small gzipped FASTQ files


def follow(*args: str, env: dict[str, str]) -> None:
    """Run a command whose output should appear as it comes (``executions watch``)."""
    print("$ flowbio-async", shlex.join(args), flush=True)
    command = Path(sys.executable).with_name("flowbio-async")
    program = [str(command)] if command.exists() else [sys.executable, "-m", "flowbio_async._cli"]
    # stderr (status and step lines) joins stdout (the log) so both show, in order, live.
    done = subprocess.run([*program, *args], env=env, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"exit code {done.returncode}: the run did not end OK")


def main() -> None:
    env = {**os.environ, "FLOW_API_TOKEN": access_token()}
    env.pop("FLOW_PASSWORD", None)

    # 1. Upload a paired-end sample.
    reads1 = write_reads(Path("kidney_R1.fastq.gz"), seed=31)
    reads2 = write_reads(Path("kidney_R2.fastq.gz"), seed=32)
    uploaded: dict[str, Any] = json.loads(
        flowbio_async(
            "--json",
            "samples",
            "upload",
            "--name",
            "kidney_pipeline_cli_example",
            "--sample-type",
            "RNA-Seq",
            "--reads1",
            str(reads1),
            "--reads2",
            str(reads2),
            "--metadata",
            "scientist=Gregor Mendel",
            "--metadata",
            "strandedness=reverse",
            "--organism",
            "Hs",
            "--no-progress",
            env=env,
        ).stdout
    )
    sample_id = str(uploaded["id"])
    print(f"  uploaded sample {sample_id} ({uploaded['name']})")

    # 2. Run RNA-Seq on it with params from a YAML file: it prints the id and the web link.
    params = Path("params.yaml")
    params.write_text("params:\n  genome: GRCh38\n  aligner: star_salmon\n")
    started = flowbio_async(
        "run", "RNA-Seq", "--sample", sample_id, "--params-file", str(params), env=env
    )
    first, url = started.stdout.strip().splitlines()[:2]
    execution_id = first.split()[1]
    print(f"  {first}\n  {url}")

    # 3. Watch it to the end: exit 0 only when it ends OK.
    follow("executions", "watch", execution_id, "--poll-interval", "0.5", env=env)

    # 4. Download every output, in the organised layout.
    fetched: dict[str, Any] = json.loads(
        flowbio_async(
            "--json",
            "download",
            "--execution",
            execution_id,
            "--dest",
            "downloads",
            "--no-progress",
            env=env,
        ).stdout
    )
    folder = Path("downloads") / "executions" / execution_id
    for result in fetched["results"]:
        print(f"  saved {result['path']}")
        assert Path(result["path"]).resolve().is_relative_to(folder.resolve()), result["path"]
    assert (folder / "results" / "counts").is_dir(), "the pipeline's folders are kept"
    print(f"{fetched['counts']['ok']} outputs under {folder}/")


if __name__ == "__main__":
    main()
