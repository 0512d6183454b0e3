"""``client.pipelines`` against the local server over loopback (#11): the catalogue, finding
versions, building run bodies from the schema, and refusing bad runs before any POST.

Every refusal test checks the server's side too: no run request arrived and the execution
count did not change.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_helpers import FINISH, client_for, demo_sample, posted_runs
from upload_helpers import OTHER
from upload_helpers import random_file as _random_file

from flowbio_async import (
    AuthenticationError,
    InvalidRunError,
    NotFoundError,
    PipelineNotFoundError,
    RunNotPermittedError,
    RunRefusedError,
)
from flowbio_async.testing import FlowServer

WARNING_SHEET = (
    "Sample Name,File,Type,Organism,Favourite Colour\n"
    "pool_a,pool_R1.fastq.gz,RNA-Seq,Martian,blue\n"
)


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    with FlowServer(execution_speed=0) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(server: FlowServer) -> Iterator[None]:
    server.reset()
    yield
    server.clear_faults()


# -- reading the catalogue --------------------------------------------------------------------
@pytest.mark.anyio
async def test_catalogue_pipeline_and_version(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        catalogue = await client.pipelines.get_catalogue()
        names = [p.name for category in catalogue for p in category.pipelines()]
        assert names[0] == "RNA-Seq" and "Demultiplex" in names and "Variant Calling" in names
        assert catalogue[0].description and catalogue[0].subcategories[0].description
        pipeline = await client.pipelines.get("1")
        assert [v.name for v in pipeline.versions] == ["3.14.0", "3.12.0"]
        assert pipeline.latest is not None and pipeline.latest.name == "3.14.0"
        version = await client.pipelines.get_version(pipeline.versions[1].id)
        assert version.name == "3.12.0" and version.nextflow_versions[0] == "23.10.1"
        params = {name: param for name, param, _ in version.run_schema.params()}
        assert params["input"].takes_samples and params["genome"].required
        assert params["genome"].valid == ["GRCh38", "GRCh37", "GRCm39"]
        with pytest.raises(NotFoundError):
            await client.pipelines.get_version("999")


@pytest.mark.anyio
async def test_find_by_name_latest_or_named_version(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        latest = await client.pipelines.find("rna-seq")
        assert latest.name == "3.14.0" and latest.pipeline is not None
        assert latest.pipeline.name == "RNA-Seq"
        older = await client.pipelines.find("RNA-Seq", "3.12.0")
        assert older.name == "3.12.0"
        with pytest.raises(PipelineNotFoundError) as no_pipeline:
            await client.pipelines.find("RNA-Seqq")
        assert "RNA-Seq" in no_pipeline.value.valid and "RNA-Seq" in str(no_pipeline.value)
        with pytest.raises(PipelineNotFoundError) as no_version:
            await client.pipelines.find("RNA-Seq", "9.9.9")
        assert no_version.value.valid == ["3.14.0", "3.12.0"]
        assert "3.14.0, 3.12.0" in str(no_version.value)
        before = server.execution_count()
        with pytest.raises(NotFoundError):  # an unknown version id: nothing is posted
            await client.pipelines.run("999", params={"genome": "GRCh38"})
        assert posted_runs(server) == 0 and server.execution_count() == before


# -- building the body ------------------------------------------------------------------------
@pytest.mark.anyio
async def test_run_fills_defaults_hidden_params_booleans_and_sample_rows(
    server: FlowServer, tmp_path: Path
) -> None:
    async with client_for(server, tmp_path) as client:
        sample = await demo_sample(client)
        version = await client.pipelines.find("RNA-Seq")
        execution = await client.pipelines.run(
            version, samples=[sample], params={"genome": "GRCh38", "skip_trimming": True}
        )
        # The server echoes the submitted inputs back (notes: endpoints/executions.md).
        assert execution.params == {
            "genome": "GRCh38",
            "aligner": "star_salmon",  # default
            "skip_trimming": "true",  # a bool becomes the string the server expects
            "custom_config_base": "/flow/configs",  # hidden: always its default
            "outdir": "results",
            "min_mapped_reads": "5",
        }  # save_reference: a boolean without default, untouched: left out
        assert execution.csv_params == {
            "input": {"rows": [{"sample": sample.id, "values": {"replicate": "1"}}]}
        }
        assert execution.data_params == {}
        assert execution.nextflow_version == "24.04.4"  # nextflow_versions[0]
        assert execution.status == "" and not execution.is_terminal
        assert execution.sample is not None and execution.sample.id == sample.id

        by_ids = await client.pipelines.run(
            version.id,
            csv_params={"samplesheet": [sample.id]},  # the schema key names the param too
            params={"genome": "GRCm39", "skip_trimming": "FALSE", "min_mapped_reads": 7.5},
            nextflow_version="23.04.3",
        )
        assert by_ids.params["skip_trimming"] == "false"
        assert by_ids.params["min_mapped_reads"] == "7.5"
        assert by_ids.csv_params["input"]["rows"][0]["sample"] == sample.id
        assert by_ids.nextflow_version == "23.04.3"


@pytest.mark.anyio
async def test_data_params_from_objects_or_ids(server: FlowServer, tmp_path: Path) -> None:
    sheet = tmp_path / "annotation.csv"
    sheet.write_text(WARNING_SHEET)
    reads = _random_file(tmp_path / "pool_R1.fastq.gz", 5_000)
    async with client_for(server, tmp_path / "state") as client:
        uploaded = await client.samples.upload_multiplexed_data({"reads1": reads}, sheet)
        version = await client.pipelines.find("Demultiplex")
        annotation = await client.data.get(uploaded.annotation_id)
        execution = await client.pipelines.run(
            version,
            data_params={"reads": uploaded.data_ids[0], "annotation": annotation},
            params={"barcode_mismatches": 2},
        )
        assert execution.data_params == {
            "reads": uploaded.data_ids[0],
            "annotation": uploaded.annotation_id,
        }
        assert execution.params == {"barcode_mismatches": "2"}
        server.step_execution(execution.id, FINISH)
        done = await client.executions.wait(execution, poll_interval=0.01)
        assert {d.filename for d in done.outputs} >= {"demultiplex_report.html"}


# -- refusals start nothing -------------------------------------------------------------------
@pytest.mark.anyio
async def test_one_error_names_every_problem_before_any_post(
    server: FlowServer, tmp_path: Path
) -> None:
    before = server.execution_count()
    async with client_for(server, tmp_path / "other", OTHER) as other:
        secret = await demo_sample(other, "secret_1")
    async with client_for(server, tmp_path) as client:
        version = await client.pipelines.find("RNA-Seq")
        with pytest.raises(InvalidRunError) as refused:
            await client.pipelines.run(
                version,
                samples=[secret.id],  # another user's private sample
                params={
                    "aligner": "bowtie",  # outside `valid`
                    "min_mapped_reads": "lots",  # not a number
                    "skip_trimming": "maybe",  # not a boolean
                    "outdir": ["a"],  # wrong type
                    "colour": "blue",  # unknown
                },  # genome missing: required
                nextflow_version="99.0",
            )
    problems = {p.field: p for p in refused.value.problems}
    assert set(problems) == {
        "csv_params.input",
        "params.aligner",
        "params.min_mapped_reads",
        "params.skip_trimming",
        "params.outdir",
        "params.colour",
        "params.genome",
        "nextflow_version",
    }
    assert problems["params.aligner"].valid == ("star_salmon", "star_rsem", "hisat2")
    assert problems["params.genome"].valid == ("GRCh38", "GRCm39")
    assert problems["nextflow_version"].valid == ("24.04.4", "23.10.1", "23.04.3")
    assert secret.id in problems["csv_params.input"].message
    text = str(refused.value)
    assert "8 problems" in text and "valid: star_salmon, star_rsem, hisat2" in text
    assert isinstance(refused.value, ValueError)
    assert posted_runs(server) == 0 and server.execution_count() == before


@pytest.mark.anyio
async def test_data_that_does_not_fit_or_cannot_be_read(server: FlowServer, tmp_path: Path) -> None:
    before = server.execution_count()
    gtf = tmp_path / "genes.gtf"
    gtf.write_text('chr1\tsrc\tgene\t1\t100\t.\t+\t.\tgene_id "g1";\n')
    async with client_for(server, tmp_path / "state") as client:
        annotation = await client.data.upload_data(gtf)
        version = await client.pipelines.find("Prepare Genome")
        with pytest.raises(InvalidRunError) as refused:
            await client.pipelines.run(
                version,
                data_params={"fasta": annotation, "gtf": "99999"},
                params={"name": "GRCz11"},
            )
        fields = {p.field: p.message for p in refused.value.problems}
        assert "does not match" in fields["data_params.fasta"]
        assert fields["data_params.gtf"] == "data 99999 does not exist or you cannot read it"

        with pytest.raises(InvalidRunError) as no_samples:
            await client.pipelines.run(version, samples=["1"], params={"name": "x"})
        assert "samples" in {p.field for p in no_samples.value.problems}
    assert posted_runs(server) == 0 and server.execution_count() == before


@pytest.mark.anyio
async def test_samples_of_the_wrong_type_are_refused(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        chip = await demo_sample(client, "ctcf_chip_1")
        with pytest.raises(InvalidRunError) as refused:
            await client.pipelines.run(
                await client.pipelines.find("RNA-Seq"), samples=[chip], params={"genome": "GRCh38"}
            )
    (problem,) = refused.value.problems
    assert problem.field == "csv_params.input" and problem.valid == ("RNA-Seq",)
    assert "ChIP-Seq" in problem.message
    assert posted_runs(server) == 0


@pytest.mark.anyio
async def test_a_user_who_may_not_run_pipelines_is_refused_before_the_post(
    server: FlowServer, tmp_path: Path
) -> None:
    before = server.execution_count()
    server.set_user("demo", can_run_pipelines=False)
    try:
        async with client_for(server, tmp_path) as client:
            sample = await demo_sample(client)
            with pytest.raises(RunNotPermittedError) as refused:
                await client.pipelines.run("2", samples=[sample], params={"genome": "GRCh38"})
    finally:
        server.set_user("demo", can_run_pipelines=True)
    assert refused.value.status_code == 403 and "cannot run pipelines" in str(refused.value)
    assert posted_runs(server) == 0 and server.execution_count() == before


@pytest.mark.anyio
async def test_anonymous_callers_cannot_run(server: FlowServer, tmp_path: Path) -> None:
    from flowbio_async import AsyncClient

    before = server.execution_count()
    async with AsyncClient(server.url) as anonymous:
        with pytest.raises(AuthenticationError):
            await anonymous.pipelines.run("2", samples=["1"], params={"genome": "GRCh38"})
    assert posted_runs(server) == 0 and server.execution_count() == before


@pytest.mark.anyio
async def test_server_refusals_become_typed_errors(server: FlowServer, tmp_path: Path) -> None:
    before = server.execution_count()
    async with client_for(server, tmp_path) as client:
        sample = await demo_sample(client)
        version = await client.pipelines.find("RNA-Seq")
        # A stale schema: the client believes genome optional; the server still requires it.
        stale = version.model_copy(deep=True)
        stale.run_schema.inputs[1].params["genome"].required = False
        with pytest.raises(RunRefusedError) as refused:
            await client.pipelines.run(stale, samples=[sample])
        assert refused.value.status_code == 400
        assert [(p.field, p.message) for p in refused.value.problems] == [
            ("genome", "This field is required.")
        ]
        server.add_fault(
            route="run_pipeline",
            status=403,
            body={"error": "Token not authorised for this endpoint"},
        )
        with pytest.raises(RunNotPermittedError) as forbidden:
            await client.pipelines.run(version, samples=[sample], params={"genome": "GRCh38"})
        assert forbidden.value.message == "Token not authorised for this endpoint"
    assert server.execution_count() == before
