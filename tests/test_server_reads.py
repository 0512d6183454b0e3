"""Local server, docs/protocol.md §4: reads, both paging styles, 400/404/500 shapes, visibility."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from server_helpers import OTHER, api

from flowbio_async.testing import FlowServer
from flowbio_async.testing._demo import DEMO_PROJECT_COUNT
from flowbio_async.testing._store import Store


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowServer]:
    """A server of its own: the shared `flow_server` gains samples from other tests, and these
    assertions are about the demo data exactly."""
    with FlowServer(data_dir=tmp_path_factory.mktemp("reads-server")) as server:
        yield server


@pytest.fixture(scope="module")
def client(demo_server: FlowServer) -> Iterator[httpx.Client]:
    with api(demo_server) as logged_in:
        yield logged_in


@pytest.fixture(scope="module")
def anonymous(demo_server: FlowServer) -> Iterator[httpx.Client]:
    with api(demo_server, None) as anon:
        yield anon


def test_page_count_paging_walks_every_page(client: httpx.Client) -> None:
    ids: list[str] = []
    page = 1
    while True:
        body = client.get("projects/owned", params={"page": page}).json()
        assert body["count"] == DEMO_PROJECT_COUNT and body["page"] == page
        if not body["projects"]:
            break
        ids += [p["id"] for p in body["projects"]]
        page += 1
    assert page == 4  # 10 + 10 + 5, then an empty page past the end
    assert len(ids) == len(set(ids)) == DEMO_PROJECT_COUNT
    assert all(isinstance(i, str) for i in ids)


def test_limit_offset_paging_matches_page_count(client: httpx.Client) -> None:
    by_page = client.get("projects/owned", params={"page": 3, "count": 5}).json()
    by_offset = client.get("projects/owned", params={"limit": 5, "offset": 10}).json()
    assert by_offset["page"] == 3
    assert by_offset["projects"] == by_page["projects"]
    tail = client.get("projects/owned", params={"limit": 100, "offset": 20}).json()
    assert len(tail["projects"]) == DEMO_PROJECT_COUNT - 20


@pytest.mark.parametrize(
    ("params", "status", "body"),
    [
        ({"count": 101}, 400, {"error": "Cannot request more than 100 items"}),
        ({"limit": 500}, 400, {"error": "Cannot request more than 100 items"}),
        ({"count": "ten"}, 500, None),
        ({"page": "x"}, 500, None),
    ],
)
def test_bad_paging_params(
    client: httpx.Client, params: dict[str, object], status: int, body: object
) -> None:
    response = client.get("samples/search", params=params)
    assert response.status_code == status
    if body is not None:
        assert response.json() == body


def test_discovery_lists_are_bare_arrays(client: httpx.Client) -> None:
    types = client.get("samples/types").json()
    assert [t["identifier"] for t in types][:3] == ["ATAC-Seq", "ChIP-Seq", "generic"]
    assert client.get("samples/types/RNA-Seq").json()["name"] == "RNA-Seq"
    organisms = client.get("organisms").json()
    assert {o["id"] for o in organisms} == {"Hs", "Mm"}
    assert client.get("organisms/Mm").json()["latin_name"] == "Mus musculus"
    data_types = {t["identifier"]: t for t in client.get("data/types").json()}
    assert data_types["fastq"]["data_count"] > 0
    attributes = {a["identifier"]: a for a in client.get("samples/metadata").json()}
    assert attributes["scientist"]["required"] is True
    assert attributes["strandedness"]["has_options"] is True
    links = attributes["strandedness"]["sample_type_links"]
    assert {"sample_type_identifier": "RNA-Seq", "required": True}.items() <= links[0].items()
    tree = client.get("pipelines").json()
    assert tree[0]["subcategories"][0]["pipelines"][0]["name"] == "RNA-Seq"


def test_metadata_options(client: httpx.Client) -> None:
    options = client.get("samples/metadata/strandedness/options").json()
    assert options["count"] == options["total_count"] == 3
    assert [o["value"] for o in options["options"]] == ["forward", "reverse", "unstranded"]
    filtered = client.get("samples/metadata/strandedness/options", params={"value": "rev"})
    assert [o["value"] for o in filtered.json()["options"]] == ["reverse"]
    free_text = client.get("samples/metadata/scientist/options").json()
    assert free_text["options"] == []
    missing = client.get("samples/metadata/nope/options")
    assert (missing.status_code, missing.json()) == (404, {"error": "Not found"})


@pytest.mark.parametrize(
    "path",
    [
        "projects/999",
        "samples/999",
        "data/999",
        "executions/999",
        "samples/types/nope",
        "organisms/Zz",
        "data/abc",
        "no/such/route",
    ],
)
def test_unknown_things_are_404_not_found(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert (response.status_code, response.json()) == (404, {"error": "Not found"})


def test_visibility_private_vs_public(
    demo_server: FlowServer, client: httpx.Client, anonymous: httpx.Client
) -> None:
    projects = client.get("projects/search", params={"count": 100}).json()["projects"]
    names = {p["name"] for p in projects}
    assert "Public atlas" in names and "Other private" not in names
    public_id = next(p["id"] for p in projects if p["name"] == "Public atlas")
    liver_id = next(p["id"] for p in projects if p["name"] == "Liver RNA-Seq")
    assert anonymous.get(f"projects/{public_id}").status_code == 200
    assert anonymous.get(f"projects/{liver_id}").status_code == 404
    assert anonymous.get("projects/owned").status_code == 401
    anonymous_names = {p["name"] for p in anonymous.get("projects/search").json()["projects"]}
    assert "Liver RNA-Seq" not in anonymous_names and "Public atlas" in anonymous_names
    with api(demo_server, OTHER) as other:
        assert other.get(f"projects/{liver_id}").status_code == 404
        owned = other.get("projects/owned").json()
        assert {p["name"] for p in owned["projects"]} == {"Public atlas", "Other private"}
    detail = client.get(f"projects/{liver_id}").json()
    assert detail["can_edit"] is True and detail["owner"]["username"] == "demo"


def test_project_samples_and_sample_detail(client: httpx.Client) -> None:
    liver = client.get("projects/search", params={"name": "Liver"}).json()["projects"][0]
    samples = client.get(f"projects/{liver['id']}/samples").json()
    assert samples["count"] == 4
    first = samples["samples"][-1]
    assert first["name"] == "liver_1" and first["is_paired"] is True
    assert first["sample_type"] == {"identifier": "RNA-Seq", "name": "RNA-Seq"}
    assert "project_name" not in first
    detail = client.get(f"samples/{first['id']}").json()
    assert detail["sample_type"] == "RNA-Seq"  # a plain name on detail (docs/protocol.md §8 row 18)
    assert detail["metadata"]["strandedness"]["value"] == "reverse"
    reads = detail["filesets"][0]["data"]
    assert [d["filename"] for d in reads] == ["liver_1_R1.fastq.gz", "liver_1_R2.fastq.gz"]
    data = client.get(f"samples/{first['id']}/data").json()
    assert data["count"] == 5  # two reads plus three pipeline outputs
    executions = client.get(f"samples/{first['id']}/executions").json()
    assert [e["status"] for e in executions["executions"]] == ["OK"]


def test_samples_search_filters(client: httpx.Client) -> None:
    def names(**params: object) -> set[str]:
        body = client.get("samples/search", params={"count": 100, **params}).json()
        return {s["name"] for s in body["samples"]}

    assert names(organism="Mm") == {"ctcf_chip_1", "ctcf_chip_2"}
    assert names(organism="Hs") == {"liver_1", "liver_2", "liver_3", "liver_4", "atlas_1"}
    assert names(sample_types="ChIP-Seq,ATAC-Seq") == {"ctcf_chip_1", "ctcf_chip_2", "atlas_1"}
    assert names(purification_target="ctc") == {"ctcf_chip_1", "ctcf_chip_2"}
    assert names(project="Liver", name="_2") == {"liver_2"}
    assert names(owned="true", organism="Hs") == {"liver_1", "liver_2", "liver_3", "liver_4"}
    assert names(created_gt=1704067200 + 12 * 86400) == {"ctcf_chip_2", "atlas_1"}  # inclusive
    assert names(no_such_param="x") == names()  # unknown params are ignored (docs/protocol.md §4.5)
    assert client.get("samples/search", params={"created_gt": "yesterday"}).status_code == 500
    ordered = client.get("samples/search", params={"sort": "name", "count": 3}).json()
    assert [s["name"] for s in ordered["samples"]] == ["atlas_1", "ctcf_chip_1", "ctcf_chip_2"]


def test_data_detail_md5_and_download_url(demo_server: FlowServer, client: httpx.Client) -> None:
    found = client.get("data/search", params={"filename": "liver_1_R1"}).json()["data"]
    data = client.get(f"data/{found[0]['id']}").json()
    blob = (demo_server.data_dir / "blobs" / data["id"]).read_bytes()
    assert data["size"] == len(blob)
    assert data["md5"] == hashlib.md5(blob).hexdigest()
    assert data["download_url"] == (
        f"{demo_server.files_url}/downloads/{data['id']}/liver_1_R1.fastq.gz"
    )
    assert data["is_binary"] is True and data["data_type"]["identifier"] == "fastq"


def test_data_contents_chunks(demo_server: FlowServer, client: httpx.Client) -> None:
    table = client.get("data/search", params={"pattern": r"gene_counts\.tsv$"}).json()["data"]
    data_id = table[0]["id"]
    blob = (demo_server.data_dir / "blobs" / data_id).read_bytes()
    assert len(blob) > 10_240  # the demo table spans two chunks
    first = client.get(f"data/{data_id}/contents").json()
    second = client.get(f"data/{data_id}/contents", params={"position": 1}).json()
    assert first["has_more"] is True and second["has_more"] is False
    assert (first["contents"] + second["contents"]).encode() == blob
    reads = client.get("data/search", params={"filename": "fastq"}).json()["data"][0]
    binary = client.get(f"data/{reads['id']}/contents")
    assert (binary.status_code, binary.json()) == (400, {"error": "Data is binary"})


def test_execution_outputs(client: httpx.Client) -> None:
    runs = client.get("executions/search", params={"status": "OK", "return_data": "1"}).json()
    assert runs["count"] == 1
    run = runs["executions"][0]
    paths = {"multiqc_report.html", "results/counts/all.gene_counts.tsv"}
    assert paths <= {d["path"] for d in run["downstream_data"]}
    detail = client.get(f"executions/{run['id']}").json()
    assert paths <= {o["path"] for o in detail["outputs"]}
    nested = {d["filename"] for p in detail["process_executions"] for d in p["downstream_data"]}
    assert {"multiqc_report.html", "all.gene_counts.tsv"} <= nested


def test_me_users_and_global_search(client: httpx.Client, anonymous: httpx.Client) -> None:
    assert client.get("me").json()["username"] == "demo"
    nobody = anonymous.get("me")  # 401 without a token (users.md, #15)
    assert (nobody.status_code, nobody.json()) == (401, {"error": "Not authorized"})
    users = client.get("users/search", params={"name": "oth"}).json()
    assert users["count"] == 1 and users["users"][0]["username"] == "other"
    assert "id" not in users["users"][0]
    found = client.get("search", params={"q": "liver"}).json()
    assert found["query"] == "liver"
    assert {s["name"] for s in found["results"]["samples"]} >= {"liver_1", "liver_4"}
    assert found["total_count"] >= 5


def test_an_older_data_dir_gains_the_new_columns(tmp_path: Path) -> None:
    """A data dir made before #15 keeps working: its executions table gains the columns the
    notes' filters read, and its rows keep their values."""
    with closing(sqlite3.connect(tmp_path / "flow.sqlite3")) as db:
        db.execute(
            "CREATE TABLE executions (id INTEGER PRIMARY KEY, identifier TEXT NOT NULL, "
            "pipeline_name TEXT NOT NULL, pipeline_version TEXT NOT NULL DEFAULT '', "
            "status TEXT NOT NULL DEFAULT 'OK', owner INTEGER NOT NULL, sample INTEGER, "
            "project INTEGER, private INTEGER NOT NULL DEFAULT 1, created INTEGER NOT NULL, "
            "started REAL, finished REAL)"
        )
        db.execute(
            "INSERT INTO executions (identifier, pipeline_name, owner, created) "
            "VALUES ('old-run', 'RNA-Seq', 1, 0)"
        )
        db.commit()
    store = Store(tmp_path)
    try:
        (row,) = store.rows("SELECT * FROM executions")
    finally:
        store.close()
    assert row["identifier"] == "old-run"
    assert (row["stdout"], row["nextflow_version"], row["retries"]) == ("", "", None)
