"""``flowbio-async pipelines|run|executions`` as a subprocess against the local server (#11).

The server runs pipelines instantly (a huge ``execution_speed``): a run finishes at the
first request after it started, so these tests check the commands, not the timing.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import Cli

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


@pytest.fixture(scope="module")
def sample_id(cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("reads")
    reads = []
    for read in ("R1", "R2"):
        path = folder / f"cli_{read}.fastq.gz"
        path.write_bytes(gzip.compress(f"@r1/{read}\nACGT\n+\nIIII\n".encode(), mtime=0))
        reads.append(str(path))
    done = cli(
        "samples",
        "upload",
        "--name",
        "cli_pipeline_sample",
        "--sample-type",
        "RNA-Seq",
        "--reads1",
        reads[0],
        "--reads2",
        reads[1],
        "--metadata",
        "scientist=Rosalind Franklin",
        "--metadata",
        "strandedness=reverse",
        "--json",
    )
    assert done.code == 0, done.stderr
    return str(done.json()["id"])


def test_pipelines_list_and_show(cli: Cli) -> None:
    listing = cli("pipelines", "list")
    assert listing.code == 0, listing.stderr
    assert "RNA-Seq\tCore / RNA" in listing.stdout
    tree = cli("pipelines", "list", "--json").json()
    assert tree[0]["name"] == "Core" and tree[0]["subcategories"][0]["pipelines"]

    shown = cli("pipelines", "show", "RNA-Seq")
    assert shown.code == 0, shown.stderr
    assert "versions: 3.14.0 (id 2, latest), 3.12.0 (id 1)" in shown.stdout
    assert "genome\tstring\tyes\t\tGRCh38, GRCm39\tReference" in shown.stdout
    older = cli("pipelines", "show", "1", "--version", "3.12.0", "--json").json()
    assert older["version"]["name"] == "3.12.0" and older["version"]["schema"]["inputs"]
    missing = cli("pipelines", "show", "RNA-Seqq")
    assert missing.code == 4 and "pipelines: " in missing.stderr


def test_run_watch_logs_and_download(cli: Cli, sample_id: str, tmp_path: Path) -> None:
    started = cli("run", "RNA-Seq", "--sample", sample_id, "--param", "genome=GRCh38", "--json")
    assert started.code == 0, started.stderr
    execution = started.json()
    run_id = execution["id"]
    assert execution["web_url"].endswith(f"/executions/{run_id}/")
    assert execution["params"]["genome"] == "GRCh38"

    watched = cli("executions", "watch", run_id, "--poll-interval", "0.05")
    assert watched.code == 0, watched.stderr
    assert "[status] OK" in watched.stderr
    logs = cli("executions", "logs", run_id)
    assert logs.code == 0 and logs.stdout.rstrip() == watched.stdout.rstrip()
    assert "Execution complete" in logs.stdout
    tail = cli("executions", "logs", run_id, "--offset", "100", "--json").json()
    assert tail["offset"] == 100 and tail["status"] == "OK"
    assert tail["next_offset"] == 100 + len(tail["text"].encode())

    final = cli("executions", "watch", run_id, "--json", "--poll-interval", "0.05")
    assert final.code == 0 and final.json()["status"] == "OK"
    shown = cli("executions", "show", run_id)
    assert "status: OK" in shown.stdout and "MULTIQC\tCOMPLETED\t0" in shown.stdout
    listed = cli("executions", "list", "--json").json()
    assert run_id in {row["id"] for row in listed}

    dest = tmp_path / "out"
    fetched = cli("download", "--execution", run_id, "--dest", str(dest), "--json")
    assert fetched.code == 0, fetched.stderr
    folder = dest / "executions" / run_id
    assert (folder / "multiqc_report.html").is_file()
    assert (folder / "multiqc_report_data" / "multiqc.log").is_file()
    assert (folder / "results" / "counts" / "all.gene_counts.tsv").is_file()


def test_run_prints_the_execution_id_and_its_web_link(
    server: FlowServer, cli: Cli, sample_id: str
) -> None:
    before = server.execution_count()
    started = cli("run", "RNA-Seq", "--sample", sample_id, "--param", "genome=GRCh38")
    assert started.code == 0, started.stderr
    first, url = started.stdout.strip().splitlines()
    words = first.split()
    assert words[0] == "execution" and words[1].isdigit()
    assert first.endswith("(RNA-Seq 3.14.0) queued")
    assert url == f"{server.url.removesuffix('/api')}/executions/{words[1]}/"
    assert server.execution_count() == before + 1
    shown = cli("executions", "show", words[1], "--json").json()
    assert shown["web_url"] == url and shown["sample"]["id"] == sample_id


def test_run_with_wait_and_a_json_params_file(cli: Cli, sample_id: str, tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"params": {"genome": "GRCm39"}, "samples": [sample_id]}))
    done = cli("run", "RNA-Seq", "--params-file", str(params), "--wait", "--poll-interval", "0.05")
    assert done.code == 0, done.stderr
    assert "Started execution" in done.stderr
    first, url, outputs = done.stdout.strip().splitlines()
    assert first.startswith("execution ") and first.endswith("(RNA-Seq 3.14.0) OK")
    assert url.startswith("http://127.0.0.1:") and url.endswith(f"/executions/{first.split()[1]}/")
    assert outputs.startswith("8 output files")

    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"genome": "GRCh38", "aligner": "hisat2"}))
    by_flat = cli("run", "RNA-Seq", "--params-file", str(flat), "--sample", sample_id, "--json")
    assert by_flat.code == 0 and by_flat.json()["params"]["aligner"] == "hisat2"


def test_run_reads_a_yaml_params_file(cli: Cli, sample_id: str, tmp_path: Path) -> None:
    structured = tmp_path / "params.yaml"
    structured.write_text(f"""# nf-core style
params:
  genome: GRCm39
  skip_trimming: true
  outdir: 2024-05-01   # a date stays the text written
  min_mapped_reads: 7
samples:
  - {sample_id}
nextflow_version: 23.10.1
""")
    done = cli("run", "RNA-Seq", "--params-file", str(structured), "--wait", "--json")
    assert done.code == 0, done.stderr
    execution = done.json()
    assert execution["status"] == "OK"
    assert execution["params"]["genome"] == "GRCm39"
    assert execution["params"]["skip_trimming"] == "true"
    assert execution["params"]["outdir"] == "2024-05-01"
    assert execution["params"]["min_mapped_reads"] == "7"
    assert execution["nextflow_version"] == "23.10.1"
    assert execution["csv_params"]["input"]["rows"][0]["sample"] == sample_id

    flat = tmp_path / "flat.yml"
    flat.write_text("genome: GRCh38\naligner: hisat2\n")
    by_flat = cli("run", "RNA-Seq", "--params-file", str(flat), "--sample", sample_id, "--json")
    assert by_flat.code == 0, by_flat.stderr
    assert by_flat.json()["params"]["aligner"] == "hisat2"
    unnamed = tmp_path / "params.txt"  # no telling suffix: JSON first, then YAML
    unnamed.write_text("genome: GRCh38\n")
    by_text = cli("run", "RNA-Seq", "--params-file", str(unnamed), "--sample", sample_id)
    assert by_text.code == 0, by_text.stderr


def test_bad_input_starts_nothing(
    server: FlowServer, cli: Cli, sample_id: str, tmp_path: Path
) -> None:
    before = server.execution_count()
    refused = cli(
        "run",
        "RNA-Seq",
        "--sample",
        sample_id,
        "--param",
        "genome=hg19",
        "--param",
        "aligner=bwa",
        "--nextflow-version",
        "1.0",
        "--json",
    )
    assert refused.code == 5
    document = refused.error_json()
    fields = {error["field"] for error in document["errors"]}
    assert fields == {"params.genome", "params.aligner", "nextflow_version"}
    assert "valid: GRCh38, GRCm39" in document["message"]

    files = {
        "broken.yaml": ("genome: [GRCh38\n", "not YAML"),
        "list.yaml": ("- genome\n- GRCh38\n", "expected a mapping of params"),
        "empty.yml": ("", "holds no params"),
        "keys.yaml": ("params:\n  1: GRCh38\n", "key 1 in params is not text"),
        "broken.json": ('{"genome": ', "not JSON"),
        "other.txt": ("{[", "not JSON or YAML"),
    }
    for name, (text, message) in files.items():
        path = tmp_path / name
        path.write_text(text)
        bad = cli("run", "RNA-Seq", "--params-file", str(path), "--sample", sample_id)
        assert bad.code == 2 and message in bad.stderr and name in bad.stderr, (name, bad)
    missing = cli("run", "RNA-Seq", "--params-file", str(tmp_path / "nope.yaml"))
    assert missing.code == 2 and "cannot read" in missing.stderr
    unknown = cli("run", "No Such Pipeline", "--param", "genome=GRCh38")
    assert unknown.code == 4 and "no pipeline named" in unknown.stderr
    usage = cli("run", "RNA-Seq", "--version-id", "2")
    assert usage.code == 2

    server.set_user("demo", can_run_pipelines=False)
    try:
        forbidden = cli("run", "RNA-Seq", "--sample", sample_id, "--param", "genome=GRCh38")
    finally:
        server.set_user("demo", can_run_pipelines=True)
    assert forbidden.code == 1 and "cannot run pipelines" in forbidden.stderr
    assert server.execution_count() == before


def test_a_failed_run_exits_1_with_its_stderr(cli: Cli, sample_id: str) -> None:
    failed = cli(
        "run", "Variant Calling", "--sample", sample_id, "--wait", "--poll-interval", "0.05"
    )
    assert failed.code == 1
    assert "ended with ERROR" in failed.stderr
    assert "java.lang.OutOfMemoryError" in failed.stderr
    assert "log tail:" in failed.stderr
    assert failed.stdout == ""  # never reported as a success

    started = cli("run", "Variant Calling", "--sample", sample_id, "--json")
    assert started.code == 0, started.stderr
    run_id = str(started.json()["id"])
    watched = cli("executions", "watch", run_id, "--poll-interval", "0.05")
    assert watched.code == 1 and "ended with ERROR" in watched.stderr
    assert "java.lang.OutOfMemoryError" in watched.stderr
    as_json = cli("executions", "watch", run_id, "--poll-interval", "0.05", "--json")
    assert as_json.code == 1 and as_json.stdout == ""
    assert as_json.error_json()["message"].startswith(f"execution {run_id}")
    followed = cli("executions", "logs", run_id, "--follow", "--poll-interval", "0.05")
    assert followed.code == 1 and "ended with ERROR" in followed.stderr
    plain = cli("executions", "logs", run_id)  # no --follow: just the text, exit 0
    assert plain.code == 0 and plain.stdout.strip()

    errors = cli("executions", "list", "--status", "ERROR", "--json").json()
    assert run_id in {str(row["id"]) for row in errors}
    assert {row["status"] for row in errors} == {"ERROR"}
    newest = cli("executions", "list", "--limit", "1")
    assert newest.code == 0, newest.stderr
    [line] = newest.stdout.strip().splitlines()  # piped: tab-separated rows, the newest only
    assert line.split("\t")[0] == run_id and "ERROR" in line.split("\t")
    assert cli("executions", "list", "--limit", "0").code == 2
    assert cli("executions", "show", "99999").code == 4


def test_wait_draws_a_status_line_on_a_terminal(cli: Cli, sample_id: str) -> None:
    code, stdout, drawn = cli.stderr_on_terminal(
        "run", "RNA-Seq", "--sample", sample_id, "--param", "genome=GRCh38", "--wait"
    )
    assert code == 0, drawn
    first = stdout.strip().splitlines()[0]
    assert first.endswith("OK")
    run_id = first.split()[1]
    # The rich status line (label, then what it knows), not only the "Started" advisory.
    assert f"execution {run_id} · ".encode() in drawn, drawn
