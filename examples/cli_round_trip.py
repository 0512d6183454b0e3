"""The command line in a batch job: token in the environment, JSON out (docs/cli.md).

A cluster job has no terminal to type a password into, so it gets an access token from the
environment (``FLOW_API_TOKEN``) and reads the ``--json`` documents the commands print.
This script asks ``POST /login`` for such a token once (what ``flowbio-async login`` does
at a prompt; docs/protocol.md §2.1), then runs the commands a job script would::

    flowbio-async --json data upload counts.tsv --no-progress
    flowbio-async --json download <id> --dest fetched/ --no-progress
    flowbio-async download <id> --dest fetched/ --no-progress     # already complete: skipped
    flowbio-async --json samples upload-batch --sheet sheet.csv --sample-type RNA-Seq \
        --skip-invalid --no-progress                               # the bad row is skipped

and checks that the file came back byte for byte::

    FLOW_API_URL=http://127.0.0.1:8000/api FLOW_USERNAME=demo FLOW_PASSWORD=demo-password \
        python examples/cli_round_trip.py
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen


def access_token() -> str:
    """``POST /login`` with the username and password; the answer's ``token``."""
    body = json.dumps(
        {"username": os.environ["FLOW_USERNAME"], "password": os.environ["FLOW_PASSWORD"]}
    ).encode()
    request = Request(
        os.environ["FLOW_API_URL"].rstrip("/") + "/login",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urlopen(request, timeout=30) as answer:
        token: str = json.load(answer)["token"]
    return token


def flowbio_async(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the ``flowbio-async`` command installed next to this Python."""
    print("$ flowbio-async", shlex.join(args))
    command = Path(sys.executable).with_name("flowbio-async")
    program = [str(command)] if command.exists() else [sys.executable, "-m", "flowbio_async._cli"]
    done = subprocess.run(
        [*program, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"exit code {done.returncode}: {done.stderr.strip()}")
    return done


def main() -> None:
    # The environment a job script would set; the token never appears on a command line.
    env = {**os.environ, "FLOW_API_TOKEN": access_token()}
    env.pop("FLOW_PASSWORD", None)
    work = Path("cli-demo")
    work.mkdir(exist_ok=True)
    sheet = work / "counts.tsv"
    sheet.write_text("gene\tcount\n" + "".join(f"g{i}\t{i * 7}\n" for i in range(2000)))

    uploaded: dict[str, Any] = json.loads(
        flowbio_async("--json", "data", "upload", str(sheet), "--no-progress", env=env).stdout
    )
    data_id = uploaded["results"][0]["id"]
    print(f"  uploaded as data {data_id} ({uploaded['counts']['ok']} ok)")

    fetched = work / "fetched"
    first = json.loads(
        flowbio_async(
            "--json", "download", data_id, "--dest", str(fetched), "--no-progress", env=env
        ).stdout
    )
    print(f"  downloaded: {first['results'][0]['status']} -> {first['results'][0]['path']}")
    again = flowbio_async("download", data_id, "--dest", str(fetched), "--no-progress", env=env)
    print("  " + again.stdout.strip().replace("\n", "\n  "))

    copy = Path(first["results"][0]["path"])
    assert copy.read_bytes() == sheet.read_bytes(), "the round trip changed the file"
    print(f"Round trip byte-exact: {copy.stat().st_size} bytes")

    # A sample sheet with one row Flow would refuse (a name with spaces): --skip-invalid
    # uploads the valid row and lists the other with its reasons (the official CLI's flags).
    (work / "cli_R1.fastq").write_text("@r1\nACGTACGTAC\n+\nIIIIIIIIII\n")
    samples = work / "sheet.csv"
    samples.write_text(
        "name,reads1,scientist,strandedness\n"
        "cli_demo_1,cli_R1.fastq,Ada Lovelace,reverse\n"
        "cli demo 2,cli_R1.fastq,Ada Lovelace,reverse\n"
    )
    batch: dict[str, Any] = json.loads(
        flowbio_async(
            "--json", "samples", "upload-batch", "--sheet", str(samples),
            "--sample-type", "RNA-Seq", "--skip-invalid", "--no-progress", env=env,
        ).stdout
    )  # fmt: skip
    (created,) = batch["results"]
    (skipped,) = batch["skipped"]
    print(f"  sample {created['id']} from row {created['row']}; row {skipped['row']} skipped:")
    print(f"    {'; '.join(skipped['reasons'])}")


if __name__ == "__main__":
    main()
