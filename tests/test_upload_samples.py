"""Sample, multiplexed and annotation uploads against the local server
(docs/protocol.md §3.4-3.6)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from upload_helpers import OTHER, data_row, logged_in, md5, random_file, rows, upload_requests

from flowbio_async import (
    AnnotationValidationError,
    AnnotationWarningsError,
    BadRequestError,
    ConfigurationError,
    InvalidSampleError,
    NotFoundError,
    SampleUploadSpec,
)
from flowbio_async.testing import FlowServer

METADATA = {"scientist": "Rosalind Franklin", "strandedness": "reverse", "replicate": "2"}
GOOD_SHEET = "Sample Name,File,Type,Organism\npool_a,pool_R1.fastq.gz,RNA-Seq,Hs\n"
WARNING_SHEET = (
    "Sample Name,File,Type,Organism,Favourite Colour\n"
    "pool_a,pool_R1.fastq.gz,RNA-Seq,Martian,blue\n"
)
INVALID_SHEET = "Sample Name,File,Type\n,pool_R1.fastq.gz,No-Such-Type\n"


def _owned_project(server: FlowServer, username: str) -> str:
    found = rows(
        server,
        "SELECT p.id FROM projects p JOIN users u ON u.id = p.owner WHERE u.username = ? "
        "ORDER BY p.id LIMIT 1",
        (username,),
    )
    return str(found[0]["id"])


async def _refused(
    server: FlowServer,
    tmp_path: Path,
    name: str,
    sample_type: str,
    data: dict[str, str],
    metadata: dict[str, str],
) -> InvalidSampleError:
    """Upload a sample the rule refuses; check that not one chunk reached the server."""
    files = {key: random_file(tmp_path / filename, 100) for key, filename in data.items()}
    server.reset_counters()
    async with logged_in(server, tmp_path / "state") as client:
        with pytest.raises(InvalidSampleError) as caught:
            await client.samples.upload_sample(name, sample_type, files, metadata)
    assert upload_requests(server) == 0
    return caught.value


@pytest.mark.anyio
async def test_paired_sample_links_both_files(flow_server: FlowServer, tmp_path: Path) -> None:
    r1 = random_file(tmp_path / "liver_R1.fastq.gz", 200_000)
    r2 = random_file(tmp_path / "liver_R2.fastq.gz", 150_001)
    project = _owned_project(flow_server, "demo")
    async with logged_in(flow_server, tmp_path / "state", chunk_size=64 * 1024) as client:
        # reads2 given first: reads1 must still go first (docs/protocol.md §3.4).
        sample = await client.samples.upload_sample(
            "liver_upload",
            "RNA-Seq",
            data={"reads2": r2, "reads1": r1},
            metadata=METADATA,
            project_id=project,
            organism_id="Hs",
        )
    (stored,) = rows(flow_server, "SELECT * FROM samples WHERE id = ?", (int(sample.id),))
    assert (stored["name"], stored["sample_type"], stored["organism"]) == (
        "liver_upload",
        "RNA-Seq",
        "Hs",
    )
    assert str(stored["project"]) == project
    files = rows(flow_server, "SELECT * FROM data WHERE sample = ? ORDER BY id", (int(sample.id),))
    assert [(f["filename"], f["md5"]) for f in files] == [
        ("liver_R1.fastq.gz", md5(r1)),
        ("liver_R2.fastq.gz", md5(r2)),
    ]
    metadata = rows(
        flow_server,
        "SELECT attribute, value FROM sample_metadata WHERE sample = ?",
        (int(sample.id),),
    )
    assert {m["attribute"]: m["value"] for m in metadata} == METADATA
    assert not list((tmp_path / "state").rglob("*.json"))


@pytest.mark.anyio
async def test_sample_refusals(flow_server: FlowServer, tmp_path: Path) -> None:
    r1 = random_file(tmp_path / "R1.fq", 100)
    flow_server.reset_counters()
    async with logged_in(flow_server, tmp_path / "state") as client:
        for data, message in [
            ({"reads1": r1, "reads3": r1}, r"invalid data key\(s\) \['reads3'\]"),
            ({"reads2": r1}, "reads1 is required when reads2 is given"),
            ({}, "at least one file"),
            ({"reads1": tmp_path / "nope.fq"}, "does not exist"),
        ]:
            with pytest.raises(ConfigurationError, match=message):
                await client.samples.upload_sample("s", "RNA-Seq", data, METADATA)
        for name, message in [("liver 1", "contains spaces"), (" ", "must not be empty")]:
            with pytest.raises(ConfigurationError, match=message):  # Flow refuses them (#15)
                await client.samples.upload_sample(name, "RNA-Seq", {"reads1": r1}, METADATA)
        # Sample type and metadata are checked against the server's catalogue (#17 item 6).
        with pytest.raises(InvalidSampleError, match="unknown sample type 'No-Such-Type'"):
            await client.samples.upload_sample("s", "No-Such-Type", {"reads1": r1}, METADATA)
        with pytest.raises(InvalidSampleError, match=r"'strandedness' .* is required for RNA-Seq"):
            await client.samples.upload_sample("s", "RNA-Seq", {"reads1": r1}, {"scientist": "Ada"})
        with pytest.raises(InvalidSampleError, match="'sideways' is not a valid strandedness"):
            await client.samples.upload_sample(
                "s", "RNA-Seq", {"reads1": r1}, {**METADATA, "strandedness": "sideways"}
            )
        assert upload_requests(flow_server) == 0
        with pytest.raises(BadRequestError, match="not owned"):  # only the server knows
            await client.samples.upload_sample(
                "s",
                "RNA-Seq",
                {"reads1": r1},
                METADATA,
                project_id=_owned_project(flow_server, "other"),
            )


@pytest.mark.anyio
async def test_a_bad_sample_type_names_the_value_and_the_valid_ones_before_any_byte(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    # Seen (#17): sample_type="RNASeq" sent the first chunk, then "HTTP 400: Invalid sample
    # type", naming neither the value nor the valid ones.
    refused = await _refused(flow_server, tmp_path, "s1", "RNASeq", {"reads1": "R1.fq"}, METADATA)
    assert refused.problems == [
        "unknown sample type 'RNASeq' (did you mean 'RNA-Seq'?); valid: ATAC-Seq, ChIP-Seq, "
        "generic, RNA-Seq, scRNA-Seq"
    ]


@pytest.mark.anyio
async def test_every_problem_of_a_sample_is_named_at_once(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    caught = await _refused(
        flow_server,
        tmp_path,
        "liver 1",
        "RNA-Seq",
        {"R1": "R1.fq"},
        {"strandness": "reverse", "replicate": "two"},
    )
    problems = caught.problems
    assert problems[0] == "the sample name 'liver 1' contains spaces, which Flow refuses"
    assert "invalid data key(s) ['R1'] for RNA-Seq samples" in problems[1]
    assert problems[2].startswith("unknown metadata attribute(s) ['strandness']; valid: scientist")
    assert "metadata 'scientist' (Scientist) is required for RNA-Seq samples" in problems
    assert "'two' is not a valid replicate: it must match ^\\d+$" in problems
    assert str(caught).startswith("sample 'liver 1' was not uploaded: ")


@pytest.mark.anyio
async def test_reads_keys_only_for_sequencing_types(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    # Seen (#17): data={"R1": ..., "R2": ...} was accepted for an RNA-Seq sample although
    # docs/uploading.md says only reads1/reads2 are valid there.
    a = random_file(tmp_path / "a.txt", 100)
    b = random_file(tmp_path / "b.txt", 50)
    flow_server.reset_counters()
    async with logged_in(flow_server, tmp_path / "state") as client:
        with pytest.raises(InvalidSampleError, match=r"\['R1', 'R2'\] for RNA-Seq samples"):
            await client.samples.upload_sample("s", "RNA-Seq", {"R1": a, "R2": b}, METADATA)
        assert upload_requests(flow_server) == 0
        # generic samples may name their files freely (uploaded in the order given).
        sample = await client.samples.upload_sample(
            "generic_pair", "generic", {"table": a, "notes": b}, {"scientist": "Ada"}
        )
    files = rows(
        flow_server, "SELECT filename FROM data WHERE sample = ? ORDER BY id", (int(sample.id),)
    )
    assert [f["filename"] for f in files] == ["a.txt", "b.txt"]


@pytest.mark.anyio
async def test_upload_sample_returns_the_sample_as_get_shows_it(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    # Seen (#17): project=None, organism=None, sample_type.identifier=None on the result.
    r1 = random_file(tmp_path / "R1.fq", 1000)
    project = _owned_project(flow_server, "demo")
    async with logged_in(flow_server, tmp_path / "state") as client:
        sample = await client.samples.upload_sample(
            "complete_result", "RNA-Seq", {"reads1": r1}, METADATA, project, "Hs"
        )
        shown = await client.samples.get(sample.id)
    assert sample.project is not None and sample.project.id == project
    assert sample.organism is not None and sample.organism.id == "Hs"
    assert sample.sample_type is not None
    assert (sample.sample_type.identifier, sample.sample_type.name) == ("RNA-Seq", "RNA-Seq")
    assert sample.metadata.keys() == shown.metadata.keys() == METADATA.keys()
    assert sample.model_dump(exclude={"sample_type"}) == shown.model_dump(exclude={"sample_type"})


def _rna_specs(folder: Path, prefix: str, count: int) -> list[SampleUploadSpec]:
    """``count`` single-read RNA-Seq samples ``<prefix>-<i>`` with 500-byte reads."""
    return [
        SampleUploadSpec(
            f"{prefix}-{i}",
            "RNA-Seq",
            {"reads1": random_file(folder / f"{prefix}{i}.fq", 500)},
            METADATA,
        )
        for i in range(count)
    ]


@pytest.mark.anyio
async def test_upload_samples_many(flow_server: FlowServer, tmp_path: Path) -> None:
    specs = _rna_specs(tmp_path, "many-sample", 3)
    other = _owned_project(flow_server, "other")  # refused by the server, not locally
    bad = SampleUploadSpec("bad", "RNA-Seq", specs[0].data, METADATA, other)
    async with logged_in(flow_server, tmp_path / "state") as client:
        results = await client.samples.upload_samples([*specs, bad])
    assert [r.item for r in results] == [*specs, bad]
    assert [r.ok for r in results] == [True, True, True, False]
    assert isinstance(results[-1].error, BadRequestError)
    names = {
        r["name"]
        for r in rows(flow_server, "SELECT name FROM samples WHERE name LIKE 'many-sample-%'")
    }
    assert names == {"many-sample-0", "many-sample-1", "many-sample-2"}


@pytest.mark.anyio
@pytest.mark.timing
async def test_upload_samples_max_concurrency_per_call(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    """#17 item 10: ``upload_samples`` ran as many samples as the client allowed. Two sample
    uploads are held until both are in flight (the ``gate``: events, not speed, #12), so the
    peak is exactly the call's cap of two, under a client limit of eight."""
    specs = _rna_specs(tmp_path, "capped-sample", 5)
    flow_server.reset()
    try:
        async with logged_in(flow_server, tmp_path / "state", max_concurrency=8) as client:
            for bad in (0, -1, 1.5, True, "2"):
                with pytest.raises(ConfigurationError, match="max_concurrency"):
                    await client.samples.upload_samples(specs, max_concurrency=bad)
            assert upload_requests(flow_server) == 0
            flow_server.add_fault(
                "gate", route="upload_sample", count=0, seconds=30, params={"together": 2}
            )
            results = await client.samples.upload_samples(specs, max_concurrency=2)
            assert [r.ok for r in results] == [True] * 5
            assert flow_server.max_in_flight()["upload_sample"] == 2
        flow_server.reset()
        async with logged_in(flow_server, tmp_path / "state1", max_concurrency=1) as client:
            # More than the client allows runs no more than the client's limit.
            again = [
                SampleUploadSpec(f"capped-again-{i}", "RNA-Seq", spec.data, METADATA)
                for i, spec in enumerate(specs[:3])
            ]
            results = await client.samples.upload_samples(again, max_concurrency=50)
            assert [r.ok for r in results] == [True] * 3
        assert flow_server.max_in_flight()["upload_sample"] == 1
    finally:
        flow_server.reset()


@pytest.mark.anyio
async def test_upload_samples_sends_nothing_when_one_sample_is_invalid(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    good = SampleUploadSpec(
        "fine", "RNA-Seq", {"reads1": random_file(tmp_path / "g.fq", 10)}, METADATA
    )
    bad = SampleUploadSpec("not fine", "RNASeq", {"reads1": tmp_path / "g.fq"}, METADATA)
    flow_server.reset_counters()
    async with logged_in(flow_server, tmp_path / "state") as client:
        with pytest.raises(InvalidSampleError) as caught:
            await client.samples.upload_samples([good, bad])
    assert str(caught.value).startswith("1 of 2 samples would be refused; nothing was uploaded")
    assert caught.value.problems[0].startswith("sample 'not fine': the sample name")
    assert upload_requests(flow_server) == 0


@pytest.mark.anyio
async def test_multiplexed_with_warnings_accepted(flow_server: FlowServer, tmp_path: Path) -> None:
    sheet = tmp_path / "annotation.csv"
    sheet.write_text(WARNING_SHEET)
    r1 = random_file(tmp_path / "pool_R1.fastq.gz", 70_000)
    r2 = random_file(tmp_path / "pool_R2.fastq.gz", 70_001)
    async with logged_in(flow_server, tmp_path / "state") as client:
        result = await client.samples.upload_multiplexed_data(
            {"reads1": r1, "reads2": r2}, annotation=sheet
        )
    messages = [w["message"] for w in result.warnings]
    assert any("Favourite Colour" in m for m in messages)
    assert any("Martian" in m for m in messages)
    assert data_row(flow_server, result.annotation_id)["md5"] == md5(sheet)
    assert [data_row(flow_server, i)["md5"] for i in result.data_ids] == [md5(r1), md5(r2)]


@pytest.mark.anyio
async def test_multiplexed_refused_before_reads(flow_server: FlowServer, tmp_path: Path) -> None:
    warning_sheet = tmp_path / "warn.csv"
    warning_sheet.write_text(WARNING_SHEET)
    invalid_sheet = tmp_path / "invalid.csv"
    invalid_sheet.write_text(INVALID_SHEET)
    r1 = random_file(tmp_path / "pool_R1.fastq.gz", 1000)
    flow_server.reset_counters()
    async with logged_in(flow_server, tmp_path / "state") as client:
        with pytest.raises(AnnotationWarningsError) as warned:
            await client.samples.upload_multiplexed_data(
                {"reads1": r1}, annotation=warning_sheet, ignore_warnings=False
            )
        assert warned.value.warnings
        with pytest.raises(AnnotationValidationError) as invalid:
            await client.samples.upload_multiplexed_data({"reads1": r1}, annotation=invalid_sheet)
        problems = " ".join(e["message"] for e in invalid.value.errors)
        assert "Sample Name is required" in problems and "No-Such-Type" in problems
    # The annotation goes first, so no reads byte was sent for a refused sheet
    # (docs/protocol.md §3.5).
    assert flow_server.counters().get("upload_multiplexed", 0) == 0


@pytest.mark.anyio
async def test_annotation_upload_and_template(flow_server: FlowServer, tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(GOOD_SHEET)
    async with logged_in(flow_server, tmp_path / "state") as client:
        uploaded = await client.samples.upload_annotation(sheet)
        assert uploaded.warnings == []
        assert data_row(flow_server, uploaded.id)["md5"] == md5(sheet)
        template = await client.samples.get_annotation_template("RNA-Seq")
        with pytest.raises(NotFoundError):
            await client.samples.get_annotation_template("No-Such-Type")
    with zipfile.ZipFile(io.BytesIO(template)) as book:
        sheet_xml = book.read("xl/worksheets/sheet1.xml").decode()
    for column in ("Sample Name", "File", "Strandedness (Required)", "Scientist (Required)"):
        assert column in sheet_xml


@pytest.mark.anyio
async def test_other_users_upload_cannot_be_continued(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    path = random_file(tmp_path / "x.bin", 1000)
    async with logged_in(flow_server, tmp_path / "a") as demo:
        first = await demo.data.upload_data(path)
    async with logged_in(flow_server, tmp_path / "b", credentials=OTHER) as other:
        # Continue demo's upload id as another user: the server refuses it (docs/protocol.md §3.8).
        http = other._http
        with pytest.raises(BadRequestError, match="Unknown upload"):
            await http.request(
                "POST",
                "upload",
                data={
                    "filename": "x.bin",
                    "expected_file_size": "1000",
                    "is_last": "true",
                    "data": first.id,
                },
                files={"blob": ("x.bin", b"", "application/octet-stream")},
            )
