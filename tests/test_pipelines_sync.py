"""The pipeline flow through the generated sync facade (#11): upload a paired sample, run
RNA-Seq on it, watch it to the end, download its outputs; a failed run raises."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowbio_async.testing import FlowServer
from flowbio_sync import (
    Client,
    ClientConfig,
    ExecutionFailedError,
    InvalidRunError,
    UsernamePasswordCredentials,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    with FlowServer(execution_speed=0) as running:
        yield running


@pytest.fixture
def client(server: FlowServer, tmp_path: Path) -> Iterator[Client]:
    config = ClientConfig(show_progress=False, state_dir=tmp_path, files_url=server.files_url)
    with Client(server.url, config) as logged_in:
        logged_in.log_in(UsernamePasswordCredentials(username="demo", password="demo-password"))
        yield logged_in


def _reads(folder: Path) -> dict[str, Path]:
    paths = {}
    for key, read in (("reads1", "R1"), ("reads2", "R2")):
        path = folder / f"sync_{read}.fastq.gz"
        path.write_bytes(gzip.compress(f"@r/{read}\nACGTACGT\n+\nIIIIIIII\n".encode(), mtime=0))
        paths[key] = path
    return paths


def test_upload_run_watch_download(server: FlowServer, client: Client, tmp_path: Path) -> None:
    sample = client.samples.upload_sample(
        "sync_pipeline_sample",
        "RNA-Seq",
        _reads(tmp_path),
        metadata={"scientist": "Dorothy Hodgkin", "strandedness": "reverse"},
    )
    version = client.pipelines.find("RNA-Seq")
    execution = client.pipelines.run(version, samples=[sample], params={"genome": "GRCh38"})
    assert execution.status == ""
    updates = client.executions.watch(execution, poll_interval=0.01)
    first = next(updates)  # a plain iterator; the run is paused until stepped
    assert first.kind == "status" and first.previous_status is None
    server.step_execution(execution.id, 100_000)
    rest = list(updates)
    assert rest[-1].is_final and rest[-1].execution.succeeded
    log = "".join(u.text for u in [first, *rest] if u.kind == "log")
    assert log == client.executions.get(execution.id).log

    report = client.executions.download_outputs(execution.id, tmp_path / "out")
    report.raise_for_failures()
    saved = {item.value.path.relative_to(tmp_path / "out").as_posix() for item in report.done}
    assert {"multiqc_report.html", "results/counts/all.gene_counts.tsv"} <= saved
    html = next(d for d in rest[-1].execution.outputs if d.filename == "multiqc_report.html")
    asset = client.data.download_asset(html, "multiqc_report_data/multiqc.log", tmp_path / "a/")
    assert b"MultiQC" in asset.path.read_bytes()
    single = client.executions.download_result(
        execution.id, "results/counts/all.gene_counts.tsv", tmp_path / "one/"
    )
    assert single.path.read_bytes().startswith(b"gene_id\t")


def test_failures_raise_through_the_facade(server: FlowServer, client: Client) -> None:
    sample = next(iter(client.samples.search(name="liver_2")))
    with pytest.raises(InvalidRunError):
        client.pipelines.run(client.pipelines.find("RNA-Seq"), samples=[sample])
    execution = client.pipelines.run(client.pipelines.find("Variant Calling"), samples=[sample])
    server.step_execution(execution.id, 100_000)
    with pytest.raises(ExecutionFailedError) as failed:
        client.executions.wait(execution, poll_interval=0.01)
    assert failed.value.status == "ERROR" and "OutOfMemoryError" in failed.value.stderr


def test_the_facade_shows_shared_aliases_by_their_plain_names() -> None:
    generated = (ROOT / "flowbio_sync" / "_generated.py").read_text()
    assert "_flowbio_async_" not in generated  # no per-module qualified copies of an alias
    for alias in ("DateLike", "PathLike", "ExecutionOrId", "VersionOrId", "SampleOrId"):
        assert f"    {alias},\n" in generated, alias
    assert "def watch(" in generated and "-> Iterator[ExecutionUpdate]:" in generated
