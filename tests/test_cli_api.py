"""``flowbio-async api|search|samples list|data list|samples import|import-status`` as a
subprocess against the local server (#11): raw bodies verbatim on stdout, the official CLI's
flags and exit codes (2 usage, 3 authentication, 4 not found, 5 bad request, 1 a FAILED job).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import COMMAND, Cli

from flowbio_async.testing import FlowServer


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    with FlowServer(execution_speed=1e9) as running:
        yield running


@pytest.fixture(scope="module")
def cli(server: FlowServer, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    logged_in = Cli(server.url, tmp_path_factory.mktemp("home"))
    code, screen = logged_in.login()
    assert code == 0, screen
    return logged_in


def test_api_verbs(cli: Cli, server: FlowServer, tmp_path: Path) -> None:
    got = cli("api", "get", "/organisms")
    assert got.code == 0 and got.stdout == server_body(server, "organisms")  # byte for byte
    searched = cli("api", "get", "samples/search", "--param", "name=liver_1", "--json")
    assert [s["name"] for s in json.loads(searched.stdout)["samples"]] == ["liver_1"]

    created = cli("api", "post", "v2/projects", "--data", '{"name": "From the shell"}')
    assert created.code == 0, created.stderr
    project = json.loads(created.stdout)
    path = f"v2/projects/{project['id']}"
    body_file = tmp_path / "patch.json"
    body_file.write_text('{"description": "patched"}')
    patched = cli("api", "patch", path, "--body", str(body_file))
    assert json.loads(patched.stdout)["description"] == "patched"
    put = subprocess.run(
        [*COMMAND, "api", "put", path, "--body", "-"],
        input='{"name": "Put", "description": "", "private": false}',
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert put.returncode == 0 and json.loads(put.stdout)["private"] is False
    deleted = cli("api", "delete", path)
    assert (deleted.code, deleted.stdout) == (0, "")
    again = cli("api", "delete", path, "--json")
    assert again.code == 4 and again.error_json()["status_code"] == 404


def test_api_refusals(cli: Cli, server: FlowServer, tmp_path: Path) -> None:
    assert cli("api", "get", "samples/search?name=x").code == 2
    assert cli("api", "get", "me", "--param", "novalue").code == 2
    assert cli("api", "post", "v2/projects").code == 2  # a write needs a body
    missing = cli("api", "post", "v2/projects", "--body", str(tmp_path / "nope.json"))
    assert missing.code == 2 and "nope.json" in missing.stderr
    refused = cli("api", "put", "v2/projects/1", "--data", '{"name": "x"}', "--json")
    assert refused.code == 5
    error = refused.error_json()
    assert error["status_code"] == 422 and error["problem"]["code"] == "validation_error"
    assert {e["pointer"] for e in error["errors"]} == {"/description", "/private"}

    anonymous = Cli(server.url, tmp_path / "nobody")
    assert anonymous("api", "get", "samples/types").code == 0  # reads may be anonymous
    assert anonymous("api", "post", "v2/projects", "--data", "{}").code == 2  # no prompt here
    expired = anonymous("api", "get", "me", "--token", "not-a-jwt")
    assert expired.code == 3


def test_listings(cli: Cli) -> None:
    samples = cli("samples", "list", "--sample-type", "RNA-Seq", "--limit", "3", "--json")
    assert samples.code == 0
    found = samples.json()
    assert len(found) == 3 and {s["sample_type"]["identifier"] for s in found} == {"RNA-Seq"}
    piped = cli("samples", "list", "--name", "liver_1")
    assert piped.stdout.split("\t")[1] == "liver_1"
    data = cli("data", "list", "--filename", "gene_counts", "--json").json()
    assert [d["filename"] for d in data] == ["all.gene_counts.tsv"]
    liver = found_id(cli, "liver_1")
    of_sample = cli("data", "list", "--sample", liver, "--json").json()
    assert {"liver_1_R1.fastq.gz", "liver_1_R2.fastq.gz"} <= {d["filename"] for d in of_sample}
    results = cli("search", "liver", "--json").json()
    assert "liver_1" in {s["name"] for s in results["samples"]}
    assert cli("samples", "list", "--limit", "0").code == 2


def test_samples_import(cli: Cli, server: FlowServer, tmp_path: Path) -> None:
    sheet = tmp_path / "accessions.csv"
    sheet.write_text(
        "accession,sample_type,name,organism,scientist,strandedness\n"
        "ERR1160845,RNA-Seq,kidney_a,Hs,Ada,reverse\n"
        "SRR5678901,RNA-Seq,,Hs,Ada,forward\n"
    )
    started = cli("samples", "import", "--sheet", str(sheet), "--json")
    assert started.code == 0, started.stderr
    job = started.json()
    assert job["accessions"] == ["ERR1160845", "SRR5678901"]
    status = cli("samples", "import-status", "--job-id", job["id"], "--json")
    assert status.code == 0 and status.json()["status"] == "COMPLETED"
    human = cli("samples", "import-status", "--job-id", job["id"])
    assert "COMPLETED" in human.stdout and "ERR1160845 ->" in human.stdout

    waited = cli(
        "samples",
        "import",
        "--accession",
        "ERR0000000",
        "--sample-type",
        "RNA-Seq",
        "--metadata",
        "scientist=Ada",
        "--metadata",
        "strandedness=reverse",
        "--wait",
    )
    assert waited.code == 1 and "FAILED" in waited.stdout and "ERR0000000" in waited.stderr
    assert cli("samples", "import-status", "--job-id", "1").code in (0, 1)
    assert cli("samples", "import-status", "--job-id", "abc").code == 2
    assert cli("samples", "import-status", "--job-id", "99999").code == 4

    bad = tmp_path / "bad.csv"
    bad.write_text("accession,sample_type\nnot-one,RNA-Seq\nERR7777777,Unknown\n")
    refused = cli("samples", "import", "--sheet", str(bad))
    assert refused.code == 5
    assert "/imports/0/accession" in refused.stderr and "/imports/1/sample_type" in refused.stderr
    no_column = tmp_path / "no_column.csv"
    no_column.write_text("accession\nERR1\n")
    usage = cli("samples", "import", "--sheet", str(no_column))
    assert usage.code == 2 and "sample_type" in usage.stderr
    assert cli("samples", "import", "--accession", "ERR1").code == 2  # needs --sample-type


def found_id(cli: Cli, name: str) -> str:
    [sample] = [
        s for s in cli("samples", "list", "--name", name, "--json").json() if s["name"] == name
    ]
    return str(sample["id"])


def server_body(server: FlowServer, path: str) -> str:
    import urllib.request

    with urllib.request.urlopen(f"{server.url}/{path}", timeout=30) as response:
        return response.read().decode()
