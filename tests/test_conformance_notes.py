"""The local server against the Flow maintainers' endpoint notes (issue #15).

Each test runs one documented behaviour over real sockets and is named after the notes'
page and section (goodwright/flow-skills, ``plugins/flow-ai/skills/flow-ai/``: ``SKILL.md``,
``flow-concepts.md``, ``endpoints/<page>.md``), so a change that drifts from Flow fails here
by name. Where the notes' pages disagree, docs/local-server.md says which one is followed;
the tests follow the same choice. The ``# #15 item N`` comments map tests to the issue.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from download_helpers import add_file, add_row
from server_helpers import OTHER, api

from flowbio_async.testing import FlowServer
from flowbio_async.testing._demo import DAY, DEMO_PIPELINE_ID, DEMO_VERSION_ID, EPOCH
from flowbio_async.testing._pipeline_catalogue import version_ids

SEARCHES = ("samples/search", "projects/search", "data/search", "executions/search")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowServer]:
    """A server of its own: the demo data exactly, plus what this module uploads."""
    with FlowServer(data_dir=tmp_path_factory.mktemp("conformance")) as running:
        yield running


@pytest.fixture(scope="module")
def demo(server: FlowServer) -> Iterator[httpx.Client]:
    with api(server) as client:
        yield client


@pytest.fixture(scope="module")
def anonymous(server: FlowServer) -> Iterator[httpx.Client]:
    with api(server, None) as client:
        yield client


@pytest.fixture(scope="module")
def bad_token(server: FlowServer) -> Iterator[httpx.Client]:
    with api(server, None) as client:
        client.headers["Authorization"] = "Bearer not-a-valid-token"
        yield client


@pytest.fixture(autouse=True)
def _settings_back(server: FlowServer) -> Iterator[None]:
    yield
    server.set(strict_search_tokens=False, anonymous_downgrade=False, wrapped_field_errors=False)


def items(client: httpx.Client, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(path, params={"count": 100, **params})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()[key]
    return found


def names(client: httpx.Client, **params: Any) -> set[str]:
    return {s["name"] for s in items(client, "samples/search", "samples", **params)}


def identifiers(client: httpx.Client, **params: Any) -> set[str]:
    return {e["identifier"] for e in items(client, "executions/search", "executions", **params)}


def filenames(client: httpx.Client, **params: Any) -> set[str]:
    return {d["filename"] for d in items(client, "data/search", "data", **params)}


def sample_id(client: httpx.Client, name: str) -> str:
    found = [s for s in items(client, "samples/search", "samples", name=name) if s["name"] == name]
    assert len(found) == 1, found
    return str(found[0]["id"])


def data_id(client: httpx.Client, filename: str) -> str:
    found = [d for d in items(client, "data/search", "data", filename=filename)]
    assert len(found) == 1, found
    return str(found[0]["id"])


def upload_chunk(client: httpx.Client, path: str, content: bytes, **fields: str) -> httpx.Response:
    """One single-chunk upload (the whole file, ``is_last=true``)."""
    form = {"expected_file_size": "0", "is_last": "true", "data": "", **fields}
    return client.post(path, data=form, files={"blob": (fields["filename"], content)})


def upload_sample(client: httpx.Client, name: str, reads: list[str], **fields: str) -> str:
    """Upload a generic sample with ``reads`` (one chunk each); returns the sample id."""
    previous: list[str] = []
    answer: dict[str, Any] = {}
    for index, filename in enumerate(reads):
        last = index == len(reads) - 1
        response = upload_chunk(
            client,
            "upload/sample",
            b"@r1\nACGT\n+\nIIII\n",
            filename=filename,
            sample_name=name,
            sample_type="generic",
            scientist="Rosalind Franklin",
            organism="Hs",
            is_last_sample="true" if last else "false",
            previous_data=",".join(previous),
            **fields,
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        previous.append(answer["data_id"])
    return str(answer["sample_id"])


@pytest.fixture(scope="module")
def private_sample_in_public_project(demo: httpx.Client) -> str:
    """An uploaded sample (private, Flow's default) in demo's public "Demo project 03"."""
    projects = items(demo, "projects/search", "projects", name="Demo project 03")
    assert projects[0]["private"] is False
    return upload_sample(demo, "hidden_in_public", ["hidden_R1.fq"], project=projects[0]["id"])


@pytest.fixture(scope="module")
def uploaded_pair(demo: httpx.Client) -> str:
    """A paired-end sample uploaded through ``/upload/sample``."""
    return upload_sample(demo, "uploaded_pair", ["pair_R1.fastq.gz", "pair_R2.fastq.gz"])


# -- users.md ---------------------------------------------------------------------------------
def test_users_get_me_auth_is_required(
    demo: httpx.Client, anonymous: httpx.Client, bad_token: httpx.Client
) -> None:
    """users.md `GET /me`, Auth: 401 without a valid token (#15 item 2)."""
    for client in (anonymous, bad_token):
        response = client.get("me")
        assert (response.status_code, response.json()) == (401, {"error": "Not authorized"})
    me = demo.get("me").json()
    assert me["id"] == "1" and me["username"] == "demo"


def test_users_search_items(anonymous: httpx.Client) -> None:
    """users.md `GET /users/search`: no id, ``image`` a URL or "" (#15 item 16)."""
    users = items(anonymous, "users/search", "users", name="oth")
    assert [u["username"] for u in users] == ["other"]
    assert "id" not in users[0] and users[0]["image"] == "" and users[0]["groups"] == []


# -- SKILL.md / users.md: searches downgrade a bad token ---------------------------------------
@pytest.mark.parametrize("path", SEARCHES)
def test_skill_searches_treat_a_bad_token_as_anonymous(
    path: str, anonymous: httpx.Client, bad_token: httpx.Client
) -> None:
    """users.md `GET /me`: "the search endpoints ... accept a bad token as anonymous and
    return 200" (samples.md `owned`: "invalid/expired tokens are silently treated as
    anonymous"). (#15 item 1)"""
    downgraded = bad_token.get(path, params={"count": 100})
    assert downgraded.status_code == 200
    assert downgraded.json() == anonymous.get(path, params={"count": 100}).json()


def test_skill_protected_routes_still_refuse_a_bad_token(bad_token: httpx.Client) -> None:
    """SKILL.md §8: 401 means auth missing or expired, on routes that need a user."""
    assert bad_token.get("projects/owned").status_code == 401


# -- samples.md `GET /samples/search` ---------------------------------------------------------
def test_samples_search_no_free_text_filter(demo: httpx.Client) -> None:
    """samples.md: "No free-text `filter` parameter"; unknown params are a silent no-op.
    (#15 item 4)"""
    assert names(demo, filter="liver_1") == names(demo)
    assert names(demo, tissue="brain") == names(demo)


def test_samples_search_organism_is_an_id(demo: httpx.Client) -> None:
    """samples.md `organism`: an organism pk; organisms.md: a name "will silently no-op".
    (#15 item 11)"""
    assert names(demo, organism="Mm") == {"ctcf_chip_1", "ctcf_chip_2"}
    assert names(demo, organism="Human") == names(demo)
    assert names(demo, organism="false") == set()  # every demo sample has an organism
    assert names(demo, organism="true") == names(demo)


def test_samples_search_metadata_truthy_falsy(demo: httpx.Client) -> None:
    """samples.md `<metadata_id>`: `true`/`yes`/`1` has any value, `false`/`no`/`0` has none.
    (#15 item 11)"""
    chip = {"ctcf_chip_1", "ctcf_chip_2"}
    assert names(demo, purification_target="true") == chip
    assert names(demo, purification_target="1") == chip
    assert names(demo, purification_target="no") == names(demo) - chip
    assert names(demo, purification_target="ctc") == chip  # still a substring otherwise


def test_samples_search_created_bounds_are_inclusive(demo: httpx.Client) -> None:
    """samples.md `created_gt`/`created_lt`: Unix ints, `__gte`/`__lte`. (#15 item 6)"""
    ctcf_2, atlas = EPOCH + 12 * DAY, EPOCH + 31 * DAY
    assert names(demo, created_gt=ctcf_2, created_lt=atlas) == {"ctcf_chip_2", "atlas_1"}
    assert names(demo, created_gt=ctcf_2, created_lt=ctcf_2) == {"ctcf_chip_2"}


@pytest.mark.parametrize("path", SEARCHES)
def test_samples_search_iso_dates_are_a_500(path: str, demo: httpx.Client) -> None:
    """samples.md, projects.md, data.md, executions.md: "Passing an ISO-8601 string causes
    HTTP 500"; the docs site's `created_after` is an unknown param. (#15 item 6)"""
    assert demo.get(path, params={"created_gt": "2024-01-12T00:00:00Z"}).status_code == 500
    assert demo.get(path, params={"created_lt": "2024-01-12"}).status_code == 500
    everything = demo.get(path, params={"count": 100}).json()
    ignored = demo.get(path, params={"count": 100, "created_after": "2100-01-01"}).json()
    assert ignored == everything


def test_samples_search_item_fields(demo: httpx.Client, anonymous: httpx.Client) -> None:
    """samples.md per-item fields: in-table metadata as ``{attribute_name, value,
    annotation}``, no ``private``, ``can_delete`` true for the owner. (#15 item 16)"""
    [liver] = [s for s in items(demo, "samples/search", "samples") if s["name"] == "liver_1"]
    assert set(liver) == {
        "id", "name", "created", "can_delete", "organism", "sample_type", "metadata",
        "project_name", "owner_name", "is_paired",
    }  # fmt: skip
    assert isinstance(liver["created"], int)
    assert liver["can_delete"] is True and liver["is_paired"] is True
    assert liver["metadata"]["scientist"] == {
        "attribute_name": "Scientist",
        "value": "Ada Lovelace",
        "annotation": None,
    }
    assert "replicate" not in liver["metadata"]  # not in_table
    [atlas] = [s for s in items(anonymous, "samples/search", "samples") if s["name"] == "atlas_1"]
    assert atlas["can_delete"] is False


def test_samples_search_full_metadata(demo: httpx.Client) -> None:
    """samples.md `full_metadata`: every attribute, in the detail endpoint's richer shape."""
    [liver] = [
        s
        for s in items(demo, "samples/search", "samples", full_metadata="true")
        if s["name"] == "liver_1"
    ]
    assert liver["metadata"]["replicate"]["value"] == "1"
    assert set(liver["metadata"]["scientist"]) == {
        "attribute_name", "attribute_description", "is_list", "url_pattern", "value",
        "annotation",
    }  # fmt: skip


# -- samples.md "Visibility rules across the family — they disagree" --------------------------
def test_samples_visibility_private_sample_in_public_project(
    anonymous: httpx.Client, private_sample_in_public_project: str
) -> None:
    """samples.md: search and detail reach a private sample in a public project; its
    ``/data`` and ``/executions`` are 404 to anonymous callers. (#15 items 8 and 16)"""
    sample = private_sample_in_public_project
    assert "hidden_in_public" in names(anonymous)
    detail = anonymous.get(f"samples/{sample}")
    assert detail.status_code == 200
    assert detail.json()["private"] is False  # "false if a public parent project forces it"
    for sub in ("data", "executions"):
        response = anonymous.get(f"samples/{sample}/{sub}")
        assert (response.status_code, response.json()) == (404, {"error": "Not found"})


def test_samples_visibility_owner_reaches_the_sub_resources(
    demo: httpx.Client, private_sample_in_public_project: str
) -> None:
    """samples.md: "With authentication, both rules broaden"."""
    data = demo.get(f"samples/{private_sample_in_public_project}/data").json()
    assert [d["filename"] for d in data["data"]] == ["hidden_R1.fq"]


# -- samples.md `GET /samples/<id>` -----------------------------------------------------------
def test_samples_get_sample_detail_fields(demo: httpx.Client) -> None:
    """samples.md `GET /samples/<id>`: ``pubmed`` a string (may be ""), owner ``image``
    a URL or "", ``project`` ``{id, name}``. (#15 item 16)"""
    detail = demo.get(f"samples/{sample_id(demo, 'liver_1')}").json()
    assert detail["pubmed"] == ""
    assert detail["owner"] == {"username": "demo", "name": "Demo User", "image": ""}
    assert detail["project"]["name"] == "Liver RNA-Seq" and detail["private"] is True
    assert isinstance(detail["created"], int) and detail["sample_type"] == "RNA-Seq"


# -- samples.md `GET /samples/<id>/data` ------------------------------------------------------
def test_samples_sample_data_is_newest_first(demo: httpx.Client) -> None:
    """samples.md `GET /samples/<id>/data`: "Sort: fixed at `-created`". (#15 item 13)"""
    data = items(demo, f"samples/{sample_id(demo, 'liver_1')}/data", "data")
    created = [datetime.fromisoformat(d["created"]) for d in data]
    assert created == sorted(created, reverse=True)
    assert data[0]["pipeline_name"] == "RNA-Seq" and data[-1]["pipeline_name"] is None


def test_samples_sample_data_items(demo: httpx.Client) -> None:
    """samples.md `GET /samples/<id>/data` per-item fields: ``created`` an ISO-8601 string;
    ``filter`` is kept here. (#15 item 10)"""
    path = f"samples/{sample_id(demo, 'liver_1')}/data"
    [reads] = items(demo, path, "data", filter="_R1")
    assert reads["created"] == "2024-01-02T00:00:00+00:00"
    assert reads["filename"] == "liver_1_R1.fastq.gz" and reads["can_delete"] is True
    assert "filetype" not in reads and "data_type" not in reads


# -- samples.md `GET /samples/<id>/executions` ------------------------------------------------
def test_samples_sample_executions_items(demo: httpx.Client) -> None:
    """samples.md `GET /samples/<id>/executions`: ISO dates, ``retries``/``retried_by`` are
    ``{id, identifier}`` or null, ``fileset`` ``{id, name, organism}``. (#15 item 10)"""
    runs = items(demo, f"samples/{sample_id(demo, 'liver_2')}/executions", "executions")
    assert [r["identifier"] for r in runs] == ["demo-run-3", "demo-run-2"]  # newest first
    retry, failed = runs
    assert retry["retries"] == {"id": failed["id"], "identifier": "demo-run-2"}
    assert failed["retried_by"] == {"id": retry["id"], "identifier": "demo-run-3"}
    assert failed["retries"] is None and retry["retried_by"] is None
    assert failed["created"] == "2024-02-22T00:00:00+00:00"
    assert failed["started"] == "2024-02-22T00:01:00.500000+00:00"
    assert failed["fileset"]["name"] == "liver_2"
    assert failed["fileset"]["organism"] == {"id": "Hs", "name": "Human"}


# -- samples.md `GET /samples/types` ----------------------------------------------------------
def test_samples_types_attributes_are_computed(anonymous: httpx.Client) -> None:
    """samples.md `GET /samples/types`: ``attributes`` are those with options AND a value on
    a sample of the type (visible to the caller). (#15 item 16)"""
    types = {t["identifier"]: t for t in anonymous.get("samples/types").json()}
    assert types["ATAC-Seq"]["attributes"] == []  # atlas_1 has no option-valued attribute
    assert types["RNA-Seq"]["attributes"] == []  # anonymous: no RNA-Seq sample is visible


def test_samples_types_attributes_for_the_owner(demo: httpx.Client) -> None:
    """The same intersection, over the samples the owner sees. (#15 item 16)"""
    types = {t["identifier"]: t for t in demo.get("samples/types").json()}
    assert types["RNA-Seq"]["attributes"] == ["strandedness"]
    assert types["ChIP-Seq"]["attributes"] == ["purification_target"]
    assert demo.get("samples/types/ChIP-Seq").json()["attributes"] == ["purification_target"]


# -- samples.md `POST /upload/sample` ---------------------------------------------------------
def test_samples_upload_sample_refuses_spaces_in_the_name(demo: httpx.Client) -> None:
    """samples.md `POST /upload/sample`: the sample name "Must contain no spaces (the server
    rejects them)". (#15 item 9)"""
    response = upload_chunk(
        demo,
        "upload/sample",
        b"ACGT",
        filename="spaced.fq",
        sample_name="has space",
        sample_type="generic",
        scientist="x",
        is_last_sample="true",
    )
    assert response.status_code == 400
    assert response.json() == {"sample_name": ["Spaces in sample name"]}
    assert "has space" not in names(demo)


def test_samples_upload_sample_paired_reads(demo: httpx.Client, uploaded_pair: str) -> None:
    """samples.md `is_paired`: a fileset with more than one read file; data.md `category`
    4 = demultiplexed. (#15 item 14)"""
    [sample] = [s for s in items(demo, "samples/search", "samples") if s["id"] == uploaded_pair]
    assert sample["is_paired"] is True
    for filename in ("pair_R1.fastq.gz", "pair_R2.fastq.gz"):
        detail = demo.get(f"data/{data_id(demo, filename)}").json()
        assert detail["category"] == 4
        assert detail["data_type"]["identifier"] == "fastq"
        assert detail["sample"] == {"id": uploaded_pair, "name": "uploaded_pair"}


# -- data.md `GET /data/<id>` -----------------------------------------------------------------
def test_data_get_data_sample_and_project_are_objects(demo: httpx.Client) -> None:
    """data.md `GET /data/<id>`: ``sample`` and ``project`` are ``{id, name}`` or null,
    resolved through the upstream chain. (#15 item 3)"""
    reads = demo.get(f"data/{data_id(demo, 'liver_1_R1')}").json()
    assert reads["sample"] == {"id": sample_id(demo, "liver_1"), "name": "liver_1"}
    assert reads["project"]["name"] == "Liver RNA-Seq"
    asset = demo.get(f"data/{data_id(demo, 'multiqc.log')}").json()
    assert asset["sample"]["name"] == "liver_1"  # through the producing execution
    assert asset["execution"]["pipeline_name"] == "RNA-Seq"


def test_data_get_data_paired_and_fileset(demo: httpx.Client, uploaded_pair: str) -> None:
    """data.md `GET /data/<id>`: ``paired`` names the other file of a two-file fileset,
    ``fileset`` is ``{id, name}``. (#15 item 14)"""
    r1, r2 = data_id(demo, "liver_1_R1"), data_id(demo, "liver_1_R2")
    detail = demo.get(f"data/{r1}").json()
    assert detail["paired"] == {"id": r2, "filename": "liver_1_R2.fastq.gz"}
    assert detail["fileset"] == {"id": sample_id(demo, "liver_1"), "name": "liver_1"}
    single = demo.get(f"data/{data_id(demo, 'ctcf_chip_1')}").json()
    assert single["paired"] is None and single["fileset"]["name"] == "ctcf_chip_1"
    output = demo.get(f"data/{data_id(demo, 'gene_counts')}").json()
    assert output["paired"] is None and output["fileset"] is None
    uploaded = demo.get(f"data/{data_id(demo, 'pair_R2')}").json()
    assert uploaded["paired"]["filename"] == "pair_R1.fastq.gz"


# -- downloads.md `GET /downloads/<data_id>/<filename>` --------------------------------------
@pytest.fixture(scope="module")
def visibility_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowServer]:
    """A server of its own for the rows below (they would change the searches above)."""
    with FlowServer(data_dir=tmp_path_factory.mktemp("download-visibility")) as running:
        yield running


@dataclass(frozen=True)
class Parents:
    """Which of a private data row's parents are public."""

    sample: bool = False
    project: bool = False
    run: bool = False
    data: bool = False

    @property
    def anonymous_readable(self) -> bool:
        return self.sample or self.project or self.run or self.data


def private_data_with(server: FlowServer, parents: Parents, content: bytes) -> tuple[str, str, str]:
    """A data row of demo's under a project, sample and run with the given privacy; returns
    ``(id, filename, run id)``."""
    project = add_row(
        server, "projects", name=f"p-{time.time_ns()}", private=int(not parents.project)
    )
    sample = add_row(
        server,
        "samples",
        name=f"s-{time.time_ns()}",
        project=project,
        private=int(not parents.sample),
    )
    run = add_row(
        server,
        "executions",
        identifier=f"r-{time.time_ns()}",
        pipeline_name="RNA-Seq",
        sample=sample,
        project=project,
        private=int(not parents.run),
    )
    filename = f"out-{time.time_ns()}.tsv"
    data = add_file(
        server, content, filename, private=not parents.data, execution=run, path=filename
    )
    return data, filename, str(run)


@pytest.mark.parametrize(
    "parents",
    [Parents(), Parents(sample=True), Parents(project=True), Parents(run=True), Parents(data=True)],
    ids=lambda p: "+".join(k for k, on in vars(p).items() if on) or "all-private",
)
def test_downloads_get_download_auth_is_the_data_rule(
    visibility_server: FlowServer, parents: Parents
) -> None:
    """downloads.md "Auth: public when the Data is anonymous-readable" and data.md
    `GET /data/<id>`: "admits the call iff some parent is non-private — the same rule as
    ... `/downloads/<data_id>/<filename>`". Anonymous and another user get exactly what
    ``/data/<id>`` gives them; the owner gets the bytes; a refusal is a bare 404."""
    content = f"bytes of {parents}".encode()
    data, filename, run = private_data_with(visibility_server, parents, content)
    with api(visibility_server, None) as anonymous, api(visibility_server, OTHER) as other:
        for client in (anonymous, other):
            detail = client.get(f"data/{data}")
            download = client.get(f"downloads/{data}/{filename}")
            assert detail.status_code == download.status_code, (detail, download)
            # docs/protocol.md §5.2: the same file
            result = client.get(f"executions/{run}/{filename}")
            assert (result.status_code, result.content) == (download.status_code, download.content)
            if parents.anonymous_readable:
                assert (download.status_code, download.content) == (200, content)
            else:
                assert (download.status_code, download.content) == (404, b"")
    with api(visibility_server) as owner:
        download = owner.get(f"downloads/{data}/{filename}")
        assert (download.status_code, download.content) == (200, content)


def test_downloads_get_download_private_sample_in_public_project(
    anonymous: httpx.Client, private_sample_in_public_project: str, demo: httpx.Client
) -> None:
    """downloads.md: the reads of a private sample in a public project are anonymous-readable
    by data.md's rule (a public parent project), although samples.md keeps the sample's
    ``/data`` listing from anonymous callers (the test above)."""
    [reads] = demo.get(f"samples/{private_sample_in_public_project}/data").json()["data"]
    assert anonymous.get(f"data/{reads['id']}").status_code == 200
    download = anonymous.get(f"downloads/{reads['id']}/{reads['filename']}")
    assert (download.status_code, download.content) == (200, b"@r1\nACGT\n+\nIIII\n")


@pytest.mark.parametrize("public", ["run", "report-only"])
def test_downloads_get_download_html_asset_edge_case(
    visibility_server: FlowServer, public: str
) -> None:
    """downloads.md "HTML asset edge case": a report's relative asset is a download too, so
    it passes the same rule as its own ``/data/<id>``: readable when the run is public, a
    bare 404 when only the report itself is public."""
    run = add_row(
        visibility_server,
        "executions",
        identifier=f"qc-{time.time_ns()}",
        pipeline_name="MultiQC",
        private=int(public != "run"),
    )
    report = add_file(
        visibility_server,
        b"<html>qc</html>",
        "report.html",
        private=public != "report-only",
        execution=run,
        path="qc/report.html",
    )
    asset = add_file(
        visibility_server,
        b"asset bytes",
        "stats.txt",
        private=True,
        execution=run,
        path="qc/report_data/stats.txt",
    )
    with api(visibility_server, None) as anonymous:
        got = anonymous.get(f"downloads/{report}/report.html")
        assert (got.status_code, got.content) == (200, b"<html>qc</html>")
        got = anonymous.get(f"downloads/{report}/report_data/stats.txt")
        expected = (200, b"asset bytes") if public == "run" else (404, b"")
        assert (got.status_code, got.content) == expected
        assert anonymous.get(f"data/{asset}").status_code == expected[0]
    with api(visibility_server) as owner:
        got = owner.get(f"downloads/{report}/report_data/stats.txt")
        assert (got.status_code, got.content) == (200, b"asset bytes")


# -- data.md `GET /data/search` ---------------------------------------------------------------
def test_data_search_no_free_text_filter(demo: httpx.Client) -> None:
    """data.md: "No free-text `filter` parameter". (#15 item 4)"""
    assert filenames(demo, filter="liver_1_R1") == filenames(demo)


def test_data_search_pipeline_is_an_id(demo: httpx.Client) -> None:
    """data.md `pipeline`: "Exact pipeline ID". (#15 item 5)"""
    outputs = {
        "multiqc_report.html", "all.gene_counts.tsv", "liver_1.sorted.bam", "multiqc.log",
        "multiqc_general_stats.txt",
    }  # fmt: skip
    assert filenames(demo, pipeline="1") == outputs
    assert filenames(demo, pipeline="RNA-Seq") == set()
    assert filenames(demo, pipeline="2") == set()


def test_data_search_is_single(demo: httpx.Client) -> None:
    """data.md `is_single`: false gives the first of each multi-file fileset with
    ``paired_filename``; true the files alone in their fileset or in none. (#15 item 7)"""
    pairs = items(demo, "data/search", "data", is_single="false", filename="liver_")
    assert {d["filename"]: d["paired_filename"] for d in pairs} == {
        f"liver_{n}_R1.fastq.gz": f"liver_{n}_R2.fastq.gz" for n in range(1, 5)
    }
    single = filenames(demo, is_single="true")
    assert {"ctcf_chip_1_R1.fastq.gz", "all.gene_counts.tsv"} <= single
    assert not any(name.startswith("liver_") and "_R" in name for name in single)
    assert all("paired_filename" not in d for d in items(demo, "data/search", "data"))


def test_data_search_process_execution(demo: httpx.Client) -> None:
    """data.md `process_execution`: substring of the producing process's name. (#15 item 7)"""
    assert filenames(demo, process_execution="featurecounts") == {"all.gene_counts.tsv"}


def test_data_search_created_bounds_are_inclusive(demo: httpx.Client) -> None:
    """data.md `created_gt`/`created_lt`: inclusive Unix bounds. (#15 item 6)"""
    created = EPOCH + 12 * DAY
    found = filenames(demo, created_gt=created, created_lt=created)
    assert found == {"ctcf_chip_2_R1.fastq.gz"}


def test_data_search_item_fields(demo: httpx.Client, anonymous: httpx.Client) -> None:
    """data.md `GET /data/search` per-item fields (no ``filetype``/``data_type``),
    ``can_delete`` for the owner. (#15 item 16)"""
    [reads] = items(demo, "data/search", "data", filename="liver_1_R1")
    assert set(reads) == {
        "id", "filename", "size", "absolute_path", "created", "pipeline_name",
        "process_execution_name", "sample_name", "owner_name", "can_delete",
    }  # fmt: skip
    assert reads["can_delete"] is True and isinstance(reads["created"], int)
    [atlas] = items(anonymous, "data/search", "data", filename="atlas_1")
    assert atlas["can_delete"] is False


# -- data.md `POST /upload` -------------------------------------------------------------------
def test_data_upload_field_errors_are_bare(demo: httpx.Client) -> None:
    """data.md `POST /upload` errors: ``{"filename": ["Spaces in filename"]}``. (#15 item 15)"""
    response = upload_chunk(demo, "upload", b"x", filename="with space.txt")
    assert (response.status_code, response.json()) == (400, {"filename": ["Spaces in filename"]})


# -- projects.md ------------------------------------------------------------------------------
def test_projects_search_pipeline_is_a_pk(demo: httpx.Client) -> None:
    """projects.md `pipeline`: projects with an execution of that pipeline pk. (#15 item 5)"""
    found = items(demo, "projects/search", "projects", pipeline="1")
    assert [p["name"] for p in found] == ["Liver RNA-Seq"]
    assert items(demo, "projects/search", "projects", pipeline="2") == []


def test_projects_search_created_bounds_are_inclusive(demo: httpx.Client) -> None:
    """projects.md `created_gt`/`created_lt`: inclusive (`__gte`/`__lte`). (#15 item 6)"""
    found = items(demo, "projects/search", "projects", created_gt=EPOCH, created_lt=EPOCH)
    assert [p["name"] for p in found] == ["Liver RNA-Seq"]


def test_projects_get_project_detail_fields(demo: httpx.Client) -> None:
    """projects.md `GET /projects/<id>`: no ``sample_count``/``execution_count`` (list view
    only); owner ``{username, name, image}``. (#15 item 16)"""
    [liver] = items(demo, "projects/search", "projects", name="Liver")
    assert liver["sample_count"] == 4 and liver["execution_count"] == 3
    detail = demo.get(f"projects/{liver['id']}").json()
    assert "sample_count" not in detail and "execution_count" not in detail
    assert detail["owner"] == {"username": "demo", "name": "Demo User", "image": ""}
    assert detail["papers"] == [] and detail["group_owner"] is None


# -- executions.md `GET /executions/search` ---------------------------------------------------
ALL_RUNS = {"demo-run-1", "demo-run-2", "demo-run-3"}
OLDER_VERSION_ID = version_ids("RNA-Seq", "3.12.0")[1]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"pipeline": str(DEMO_PIPELINE_ID)}, ALL_RUNS),  # #15 item 5: an id, not a name
        ({"pipeline": "RNA-Seq"}, set()),
        ({"pipeline_version": str(DEMO_VERSION_ID)}, ALL_RUNS),  # #15 item 7 from here
        ({"pipeline_version": str(OLDER_VERSION_ID)}, set()),  # RNA-Seq 3.12.0: never run
        ({"pipeline_version": "99"}, set()),
        ({"pipeline_versions": f"99,{DEMO_VERSION_ID}"}, ALL_RUNS),
        ({"pipeline_versions": "98,99"}, set()),
        ({"organism": "Hs"}, ALL_RUNS),
        ({"organism": "Mm"}, set()),
        ({"owner": "nobody"}, set()),
        ({"owner": "emo"}, ALL_RUNS),
        ({"duration_gt": "3000"}, {"demo-run-1", "demo-run-2"}),
        ({"duration_lt": "60"}, {"demo-run-3"}),
        ({"process_execution": "multiqc"}, {"demo-run-1"}),
        ({"nextflow_version": "24.04.4"}, ALL_RUNS),
        ({"nextflow_version": "23.10.1"}, set()),
        ({"terminal": "exit status 137"}, {"demo-run-2"}),
        ({"terminal": "cancelled by"}, {"demo-run-3"}),
        ({"name": "Human"}, ALL_RUNS),  # organism name
        ({"name": "liver_2"}, {"demo-run-2", "demo-run-3"}),  # fileset name
        ({"name": "demo-run"}, set()),  # the identifier is not among the name fields
        ({"status": "OK"}, {"demo-run-1"}),
        ({"status": "ok"}, set()),  # #15 item 16: exact, not case-insensitive
        ({"created_gt": EPOCH + 52 * DAY, "created_lt": EPOCH + 52 * DAY}, {"demo-run-2"}),
    ],
    ids=lambda value: (
        "&".join(f"{k}={v}" for k, v in value.items())
        if isinstance(value, dict)
        else ",".join(sorted(run.removeprefix("demo-") for run in value)) or "none"
    ),
)
def test_executions_search_filters(
    demo: httpx.Client, params: dict[str, Any], expected: set[str]
) -> None:
    """executions.md `GET /executions/search` query params."""
    assert identifiers(demo, **params) == expected


def test_executions_search_return_inputs_and_data(demo: httpx.Client) -> None:
    """executions.md `return_inputs` adds ``inputs`` ``{id, filename, filetype}``;
    `return_data` adds ``downstream_data``. (#15 item 7)"""
    [run] = items(demo, "executions/search", "executions", status="OK", return_inputs="true")
    assert [(i["filename"], i["filetype"]) for i in run["inputs"]] == [
        ("liver_1_R1.fastq.gz", "fastq.gz"),
        ("liver_1_R2.fastq.gz", "fastq.gz"),
    ]
    assert "downstream_data" not in run
    [run] = items(demo, "executions/search", "executions", status="OK", return_data="1")
    assert "inputs" not in run
    assert {"id", "filename", "filetype", "process_execution_name"} <= set(
        run["downstream_data"][0]
    )


def test_executions_search_item_fields(demo: httpx.Client) -> None:
    """executions.md per-item fields: ``created`` an int, ``started``/``finished`` floats,
    ``retries``/``retried_by`` ``{id, identifier}`` or null. (#15 item 10)"""
    runs = {r["identifier"]: r for r in items(demo, "executions/search", "executions")}
    first = runs["demo-run-1"]
    assert first["retries"] is None and first["retried_by"] is None
    assert runs["demo-run-3"]["retries"]["identifier"] == "demo-run-2"
    assert isinstance(first["created"], int) and first["started"] == first["created"] + 60.5
    assert first["can_delete"] is True and first["sample_name"] == "liver_1"
    assert first["fileset"]["organism"] == {"id": "Hs", "name": "Human"}


# -- executions.md `GET /executions/<id>` -----------------------------------------------------
def test_executions_get_execution_detail_fields(
    demo: httpx.Client, anonymous: httpx.Client
) -> None:
    """executions.md `GET /executions/<id>`: ``pipeline`` is the version with its ``schema``;
    ``sample``, ``project``, ``fileset`` and ``owner`` are objects; ``retries``/``retried_by``
    ``{id, identifier}``; the list item's fields say the same as the search. (#15 item 12)"""
    runs = {r["identifier"]: r for r in items(demo, "executions/search", "executions")}
    listed = runs["demo-run-3"]
    detail = demo.get(f"executions/{listed['id']}").json()
    assert {key: detail[key] for key in listed} == listed  # can_delete, fileset included
    assert listed["can_delete"] is True  # the owner's run (#15 item 16)
    assert detail["pipeline"]["name"] == "3.14.0" and detail["pipeline"]["schema"]["inputs"]
    assert detail["pipeline"]["pipeline"] == {"id": str(DEMO_PIPELINE_ID), "name": "RNA-Seq"}
    assert detail["sample"] == {"id": sample_id(demo, "liver_2"), "name": "liver_2"}
    assert detail["project"] == {"id": detail["project"]["id"], "name": "Liver RNA-Seq"}
    assert detail["fileset"] == {
        "id": detail["sample"]["id"],
        "name": "liver_2",
        "organism": {"id": "Hs", "name": "Human"},
    }
    assert detail["retries"] == {"id": runs["demo-run-2"]["id"], "identifier": "demo-run-2"}
    assert detail["owner"] == {"username": "demo", "name": "Demo User", "image": ""}
    assert {"uuid", "nextflow_version", "stdout", "stderr", "log", "command"} <= set(detail)
    hidden = anonymous.get(f"executions/{listed['id']}")  # "404 if ... not readable"
    assert (hidden.status_code, hidden.json()) == (404, {"error": "Not found"})


def test_executions_get_execution_include_and_exclude(demo: httpx.Client) -> None:
    """executions.md `include` (repeatable) restricts the top-level fields, `exclude` drops
    them, "Using both `include` and `exclude` → HTTP 400". (#15 item 12)"""
    [run] = items(demo, "executions/search", "executions", status="OK")
    path = f"executions/{run['id']}"
    trimmed = demo.get(path, params=[("include", "status"), ("include", "finished")])
    assert trimmed.json() == {"status": "OK", "finished": run["finished"]}
    full = demo.get(path).json()
    dropped = demo.get(path, params=[("exclude", "log"), ("exclude", "process_executions")])
    assert dropped.json() == {
        k: v for k, v in full.items() if k not in {"log", "process_executions"}
    }
    both = demo.get(path, params={"include": "status", "exclude": "log"})
    assert both.status_code == 400


@pytest.fixture(scope="module")
def paused_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowServer]:
    """A server whose simulated runs move only when a test steps them."""
    with FlowServer(data_dir=tmp_path_factory.mktemp("runs"), execution_speed=0) as running:
        yield running


def test_executions_get_execution_log_offset(paused_server: FlowServer) -> None:
    """executions.md `log`: "Log **byte offset** to start from — returns log text from that
    offset onward"; "Non-integer → HTTP 400". (#15 item 12)"""
    with api(paused_server) as client:
        liver = sample_id(client, "liver_1")
        body = {
            "params": {"genome": "GRCh38"},
            "data_params": {},
            "csv_params": {"input": {"rows": [{"sample": liver, "values": {}}]}},
            "nextflow_version": "24.04.4",
        }
        started = client.post(f"pipelines/versions/{DEMO_VERSION_ID}/run", json=body)
        assert started.status_code == 200, started.text
        path = f"executions/{started.json()['id']}"
        paused_server.step_execution(started.json()["id"], 100_000.0)
        full = client.get(path, params={"include": "log"}).json()["log"]
        cut = len(full.encode()) // 2
        assert cut > 0
        tail = client.get(path, params={"log": cut, "include": "log"}).json()["log"]
        assert tail.encode() == full.encode()[cut:]
        for bad in ("x", "1.5", "-1"):
            assert client.get(path, params={"log": bad}).status_code == 400


# -- pipelines.md -----------------------------------------------------------------------------
def test_pipelines_get_pipelines_tree(anonymous: httpx.Client) -> None:
    """pipelines.md `GET /pipelines`: a bare array of ``{name, description, subcategories}``,
    subcategories ``{name, description, pipelines}``; query params are a no-op. (#15 item 16)"""
    tree = anonymous.get("pipelines").json()
    assert isinstance(tree, list) and tree
    assert anonymous.get("pipelines", params={"count": 1, "filter": "x"}).json() == tree
    for category in tree:
        assert set(category) == {"name", "description", "subcategories"}
        assert category["description"]
        for sub in category["subcategories"]:
            assert set(sub) == {"name", "description", "pipelines"} and sub["pipelines"]
            for pipeline in sub["pipelines"]:
                assert set(pipeline) == {
                    "id", "name", "description", "execution_count", "is_nfcore",
                    "prepares_genome",
                }  # fmt: skip
                assert isinstance(pipeline["id"], str)


def test_pipelines_get_pipeline_and_version(anonymous: httpx.Client) -> None:
    """pipelines.md `GET /pipelines/<id>`: versions most recent first, each with
    ``nextflow_versions``; `GET /pipelines/versions/<id>`: the run ``schema`` and Nextflow
    versions sorted descending; unknown ids are 404. (#15 item 16)"""
    pipeline = anonymous.get(f"pipelines/{DEMO_PIPELINE_ID}").json()
    assert pipeline["name"] == "RNA-Seq"
    assert {"repo_url", "repo_original_url", "is_nfcore", "prepares_genome"} <= set(pipeline)
    assert [v["name"] for v in pipeline["versions"]] == ["3.14.0", "3.12.0"]
    newest = pipeline["versions"][0]
    assert newest["id"] == str(DEMO_VERSION_ID) and newest["nextflow_versions"]
    version = anonymous.get(f"pipelines/versions/{newest['id']}").json()
    assert version["schema"]["inputs"] and isinstance(version["long_description"], str)
    assert version["nextflow_versions"] == sorted(version["nextflow_versions"], reverse=True)
    assert "upstream_pipeline_versions" in version
    for path in ("pipelines/999", "pipelines/versions/999"):
        assert anonymous.get(path).status_code == 404


# -- named settings bring back older behaviours -----------------------------------------------
def test_setting_strict_search_tokens(server: FlowServer, bad_token: httpx.Client) -> None:
    """``strict_search_tokens``: searches answer 401 to a bad token (the old local default)."""
    server.set(strict_search_tokens=True)
    for path in SEARCHES:
        assert bad_token.get(path).status_code == 401


def test_setting_anonymous_downgrade(
    server: FlowServer, anonymous: httpx.Client, bad_token: httpx.Client
) -> None:
    """``anonymous_downgrade``: older Flow, every read anonymous and ``/me`` 200 with nulls."""
    server.set(anonymous_downgrade=True)
    for client in (anonymous, bad_token):
        me = client.get("me")
        assert me.status_code == 200 and me.json()["id"] is None
    assert bad_token.get("samples/types").status_code == 200
    assert bad_token.get("projects/owned").status_code == 401  # still needs a user


def test_setting_wrapped_field_errors(server: FlowServer, demo: httpx.Client) -> None:
    """``wrapped_field_errors``: ``{"error": {field: [...]}}`` as the run endpoint's page
    (pipelines.md) shows them."""
    server.set(wrapped_field_errors=True)
    response = upload_chunk(demo, "upload", b"x", filename="with space.txt")
    assert response.json() == {"error": {"filename": ["Spaces in filename"]}}
