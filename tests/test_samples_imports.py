"""Sample imports from public accessions over loopback (docs/protocol.md §3.7, #11): a batch job
moves RUNNING -> COMPLETED (creating the samples) or FAILED; refused specs are a 422 naming
each field and start no job; waiting is bounded and survives a failed poll.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_helpers import client_for
from upload_helpers import OTHER

from flowbio_async import (
    ConfigurationError,
    NotFoundError,
    SampleImportFailedError,
    SampleImportSpec,
    SampleImportTimeoutError,
    UnprocessableError,
)
from flowbio_async.testing import FlowServer

GOOD = {"scientist": "Ada", "strandedness": "reverse"}


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    with FlowServer(execution_speed=2000) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(server: FlowServer) -> Iterator[None]:
    server.reset()
    server.set(execution_speed=2000)
    yield
    server.clear_faults()


def _one(accession: str) -> list[SampleImportSpec]:
    return [SampleImportSpec(accession, "RNA-Seq", metadata=GOOD)]


def _count(server: FlowServer, table: str) -> int:
    with sqlite3.connect(Path(server.data_dir) / "flow.sqlite3") as db:
        try:
            return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        except sqlite3.OperationalError:  # the jobs table is made by the first import
            return 0


@pytest.mark.anyio
async def test_a_batch_becomes_samples(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        job = await client.samples.import_samples(
            [
                SampleImportSpec("ERR1160845", "RNA-Seq", organism_id="Hs", metadata=GOOD),
                {
                    "accession": "SRR5678901",
                    "sample_type": "RNA-Seq",
                    "name": "kidney_2",
                    "pubmed": "12345678",
                    "project_id": "1",
                    "metadata": GOOD,
                },
            ]
        )
        assert job.status == "RUNNING" and job.accessions == ["ERR1160845", "SRR5678901"]
        assert job.created is not None and job.created.tzinfo is not None
        done = await client.samples.wait_for_import(job, poll_interval=0.01)
        assert done.completed and len(done.sample_ids) == 2 and done.finished is not None
        first, second = [await client.samples.get(i) for i in done.sample_ids]
        assert (first.name, second.name) == ("ERR1160845", "kidney_2")
        assert second.project and second.project.name == "Liver RNA-Seq"
        assert second.pubmed == "12345678"
        files = await client.samples.get_data(first.id).all()
        assert sorted(f.filename for f in files) == [
            "ERR1160845_1.fastq.gz",
            "ERR1160845_2.fastq.gz",
        ]
        assert (await client.samples.get_import(job.id)) == done


@pytest.mark.anyio
async def test_a_failed_job_raises(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        before = _count(server, "samples")
        job = await client.samples.import_samples(
            [
                SampleImportSpec("ERR1160845", "RNA-Seq", metadata=GOOD),
                SampleImportSpec("ERR0000000", "RNA-Seq", metadata=GOOD),
            ]
        )
        with pytest.raises(SampleImportFailedError, match="ERR0000000") as failed:
            await client.samples.wait_for_import(job.id, poll_interval=0.01)
        assert failed.value.job.failed and failed.value.job.sample_ids == []
        quiet = await client.samples.wait_for_import(job, raise_on_failure=False)
        assert quiet.failed and "Not found in the archive" in (quiet.error or "")
        assert _count(server, "samples") == before  # a failed batch makes no samples


@pytest.mark.anyio
async def test_refused_specs_name_each_field_and_start_nothing(
    server: FlowServer, tmp_path: Path
) -> None:
    async with client_for(server, tmp_path) as client:
        await client.samples.import_samples(_one("ERR1111111"))
        jobs, samples = _count(server, "sample_imports"), _count(server, "samples")
        with pytest.raises(UnprocessableError) as refused:
            await client.samples.import_samples(
                [
                    SampleImportSpec("not-an-accession", "RNA-Seq", metadata=GOOD),
                    SampleImportSpec("ERR2222222", "Martian-Seq", metadata=GOOD),
                    SampleImportSpec(
                        "ERR3333333",
                        "RNA-Seq",
                        name="two words",
                        organism_id="Xx",
                        metadata={"strandedness": "sideways"},
                    ),
                    SampleImportSpec("ERR2222222", "RNA-Seq", metadata=GOOD),
                ]
            )
        exc = refused.value
        assert exc.status_code == 422 and exc.code == "validation_error" and exc.problem
        pointers = {d["pointer"] for d in exc.details or []}
        assert pointers == {
            "/imports/0/accession",
            "/imports/1/sample_type",
            "/imports/2/name",
            "/imports/2/organism",
            "/imports/2/metadata/strandedness",
            "/imports/2/metadata/scientist",
            "/imports/3/accession",
        }
        assert "/imports/0/accession" in str(exc)
        assert (_count(server, "sample_imports"), _count(server, "samples")) == (jobs, samples)
    async with client_for(server, tmp_path / "other", credentials=OTHER) as other:
        with pytest.raises(UnprocessableError) as not_theirs:
            await other.samples.import_samples(
                [SampleImportSpec("ERR4444444", "ATAC-Seq", project_id="1", metadata=GOOD)]
            )
        assert {d["pointer"] for d in not_theirs.value.details or []} == {"/imports/0/project"}
        with pytest.raises(NotFoundError):  # demo's job is not other's to read
            await other.samples.get_import("1")
    assert _count(server, "sample_imports") == jobs


@pytest.mark.anyio
async def test_the_client_refuses_what_it_knows_is_wrong(
    server: FlowServer, tmp_path: Path
) -> None:
    async with client_for(server, tmp_path) as client:
        server.reset_counters()
        for imports, match in (
            ([], "non-empty"),
            ([SampleImportSpec(" ", "RNA-Seq")], r"imports\[0\].accession"),
            ([SampleImportSpec("ERR1", "RNA-Seq", pubmed="PMID1")], "pubmed"),
            ([{"accession": "ERR1", "sample_type": "RNA-Seq", "colour": "red"}], "colour"),
        ):
            with pytest.raises(ConfigurationError, match=match):
                await client.samples.import_samples(imports)
        assert server.counters().get("sample_imports", 0) == 0
        with pytest.raises(ConfigurationError):
            await client.samples.wait_for_import("1", poll_interval=0)
        with pytest.raises(NotFoundError):
            await client.samples.get_import("999999")


@pytest.mark.anyio
@pytest.mark.timing
async def test_waiting_is_bounded_and_survives_a_bad_poll(
    server: FlowServer, tmp_path: Path
) -> None:
    async with client_for(server, tmp_path) as client:
        server.set(execution_speed=0)  # jobs started now never finish
        stuck = await client.samples.import_samples(_one("ERR5555555"))
        # Answered or not within 0.3 s (machine speed), the job is known to be running.
        with pytest.raises(SampleImportTimeoutError) as timed_out:
            await client.samples.wait_for_import(stuck, poll_interval=0.05, timeout=0.3)
        assert timed_out.value.job.running and isinstance(timed_out.value, TimeoutError)
        assert timed_out.value.job.id == stuck.id

        # The deadline bounds a request too: the server holds the poll far longer than the
        # timeout, so no answer can come first; the error carries the job passed in.
        server.add_fault("stall", route="sample_import", seconds=30, count=1)
        try:
            with pytest.raises(SampleImportTimeoutError) as held:
                await client.samples.wait_for_import(stuck, poll_interval=0.05, timeout=0.3)
        finally:
            server.clear_faults()
        assert held.value.job is stuck

        server.set(execution_speed=2000)
        job = await client.samples.import_samples(_one("ERR6666666"))
        server.add_fault(route="sample_import", status=503, count=2)
        done = await client.samples.wait_for_import(job, poll_interval=0.01)
        assert done.completed
        assert server.faults()[0]["applied"] == 2
