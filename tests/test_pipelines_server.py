"""The local server's pipelines, runs and execution detail, over loopback (#11, #15 items
12 and 16), checked against the Flow maintainers' notes (flow-skills endpoints/pipelines.md,
endpoints/executions.md).

The server runs with ``execution_speed=0``: simulated runs move only when a test steps their
clock (``step_execution``), so every intermediate state is observed deterministically.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from server_helpers import OTHER, api

from flowbio_async.testing import FlowServer

FINISH = 100_000.0  # simulated seconds: more than any demo run lasts


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    with FlowServer(execution_speed=0) as running:
        yield running


@pytest.fixture
def client(server: FlowServer) -> Iterator[httpx.Client]:
    with api(server) as logged_in:
        yield logged_in


@pytest.fixture
def anonymous(server: FlowServer) -> Iterator[httpx.Client]:
    with api(server, credentials=None) as nobody:
        yield nobody


def _sample_id(client: httpx.Client, name: str = "liver_1") -> str:
    found = client.get("samples/search", params={"name": name}).json()["samples"]
    return str(found[0]["id"])


def _rnaseq_version(client: httpx.Client) -> str:
    return str(client.get("pipelines/1").json()["versions"][0]["id"])


def _body(sample: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "params": {"genome": "GRCh38"},
        "data_params": {},
        "csv_params": {"input": {"rows": [{"sample": sample, "values": {}}]}},
        "nextflow_version": "24.04.4",
    }
    body.update(changes)
    return body


def _start(client: httpx.Client, version: str | None = None, **changes: Any) -> dict[str, Any]:
    version = version or _rnaseq_version(client)
    response = client.post(
        f"pipelines/versions/{version}/run", json=_body(_sample_id(client), **changes)
    )
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


# -- catalogue --------------------------------------------------------------------------------
def test_catalogue_is_a_bare_tree_with_descriptions_and_ignores_params(
    anonymous: httpx.Client,
) -> None:
    tree = anonymous.get("pipelines").json()
    assert isinstance(tree, list)
    assert [c["name"] for c in tree] == ["Core", "Utilities"]
    assert all(c["description"] for c in tree)  # #15 item 16: categories carry a description
    sub = tree[0]["subcategories"][0]
    assert sub["name"] == "RNA" and sub["description"]
    item = sub["pipelines"][0]
    assert set(item) == {
        "id",
        "name",
        "description",
        "execution_count",
        "is_nfcore",
        "prepares_genome",
    }
    assert item["id"] == "1" and item["name"] == "RNA-Seq" and "versions" not in item
    assert anonymous.get("pipelines", params={"page": 2, "count": 1}).json() == tree


def test_pipeline_lists_versions_newest_first(anonymous: httpx.Client) -> None:
    pipeline = anonymous.get("pipelines/1").json()
    assert pipeline["name"] == "RNA-Seq" and pipeline["repo_url"].startswith("https://")
    assert [v["name"] for v in pipeline["versions"]] == ["3.14.0", "3.12.0"]
    assert pipeline["versions"][0]["nextflow_versions"][0] == "24.04.4"
    for path in ("pipelines/999", "pipelines/abc", "pipelines/versions/999"):
        missing = anonymous.get(path)
        assert (missing.status_code, missing.json()) == (404, {"error": "Not found"})


def test_version_carries_schema_and_sorted_nextflow_versions(anonymous: httpx.Client) -> None:
    version = anonymous.get("pipelines/versions/2").json()
    assert version["name"] == "3.14.0"
    assert version["nextflow_versions"] == sorted(version["nextflow_versions"], reverse=True)
    sections = version["schema"]["inputs"]
    samplesheet = sections[0]["params"]["samplesheet"]
    assert samplesheet["type"] == "csv" and samplesheet["takes_samples"] is True
    assert samplesheet["param"] == "input"  # the submitted name overrides the key
    types = {p["type"] for s in sections for p in s["params"].values()}
    assert {"csv", "string", "boolean", "hidden", "number"} <= types
    demux = anonymous.get("pipelines/5").json()["versions"][0]["id"]
    reads = anonymous.get(f"pipelines/versions/{demux}").json()["schema"]["inputs"][0]
    assert reads["params"]["reads"]["type"] == "data"


# -- run: refusals start nothing ------------------------------------------------------------
def test_refused_runs_start_no_execution(
    server: FlowServer, client: httpx.Client, anonymous: httpx.Client
) -> None:
    version = _rnaseq_version(client)
    sample = _sample_id(client)
    before = server.execution_count()
    path = f"pipelines/versions/{version}/run"

    assert anonymous.post(path, json=_body(sample)).status_code == 401
    assert client.post("pipelines/versions/999/run", json=_body(sample)).status_code == 404
    for missing in ("params", "data_params", "csv_params"):
        body = _body(sample)
        del body[missing]
        assert client.post(path, json=body).status_code == 500  # the notes: not a default

    refused = client.post(
        path,
        json=_body(
            sample,
            params={"genome": "hg19", "min_mapped_reads": "many", "skip_trimming": "maybe"},
            nextflow_version="1.0",
        ),
    )
    assert refused.status_code == 400
    errors = refused.json()["error"]
    assert set(errors) == {"genome", "min_mapped_reads", "skip_trimming", "nextflow_version"}
    assert all(isinstance(messages, list) for messages in errors.values())

    empty = client.post(path, json=_body(sample, params={}, csv_params={})).json()["error"]
    assert empty["genome"] == empty["input"] == ["This field is required."]
    assert server.execution_count() == before


def test_samples_and_data_the_caller_cannot_read_are_refused(
    server: FlowServer, client: httpx.Client
) -> None:
    before = server.execution_count()
    with api(server, OTHER) as other:
        secret = _sample_id(other, "secret_1")
    refused = client.post(
        f"pipelines/versions/{_rnaseq_version(client)}/run", json=_body(secret)
    ).json()["error"]
    assert refused["input"] == [f"Sample {secret} does not exist or is not accessible."]

    demux = client.get("pipelines/5").json()["versions"][0]["id"]
    reads = client.get("data/search", params={"filename": "liver_1_R1"}).json()["data"][0]["id"]
    body = {
        "params": {},
        "data_params": {"reads": reads, "annotation": "99999"},
        "csv_params": {},
        "nextflow_version": "24.04.4",
    }
    errors = client.post(f"pipelines/versions/{demux}/run", json=body).json()["error"]
    assert errors["annotation"] == ["Data 99999 does not exist or is not accessible."]
    assert errors["reads"] == [f"Data {reads} is not of category 3."]
    assert server.execution_count() == before


def test_a_user_who_may_not_run_pipelines_gets_403(
    server: FlowServer, client: httpx.Client
) -> None:
    before = server.execution_count()
    server.set_user("demo", can_run_pipelines=False)
    try:
        refused = client.post(
            f"pipelines/versions/{_rnaseq_version(client)}/run", json=_body(_sample_id(client))
        )
        assert client.get("me").json()["can_run_pipelines"] is False
    finally:
        server.set_user("demo", can_run_pipelines=True)
    assert (refused.status_code, refused.json()) == (403, {"error": "User cannot run pipelines"})
    assert server.execution_count() == before


# -- a run moves through its statuses ---------------------------------------------------------
def test_a_run_moves_from_queued_to_ok_with_steps_log_and_outputs(
    server: FlowServer, client: httpx.Client
) -> None:
    run = _start(client)
    assert run["status"] == "" and run["identifier"] and run["uuid"]
    assert run["process_executions"] == [] and run["outputs"] == []
    assert run["params"]["genome"] == "GRCh38" and run["nextflow_version"] == "24.04.4"
    path = f"executions/{run['id']}"

    server.step_execution(run["id"], 30)
    first = client.get(path).json()
    assert first["status"] == "-" and first["started"] is not None
    assert [p["status"] for p in first["process_executions"]] == ["RUNNING"]

    server.step_execution(run["id"], 60)
    second = client.get(path).json()
    assert second["process_executions"][0]["status"] == "COMPLETED"
    assert second["log"].startswith(first["log"]) and len(second["log"]) > len(first["log"])
    assert len(second["stdout"]) > len(first["stdout"])
    fastqc = second["process_executions"][0]["downstream_data"]
    assert [d["filename"] for d in fastqc] == ["liver_1_fastqc.html"]  # registered on finish

    server.step_execution(run["id"], FINISH)
    done = client.get(path).json()
    assert done["status"] == "OK" and done["finished"] >= done["started"]
    assert all(p["status"] == "COMPLETED" for p in done["process_executions"])
    paths = {o["path"] for o in done["outputs"]}
    assert {
        "multiqc_report.html",
        "multiqc_report_data/multiqc.log",
        "results/counts/all.gene_counts.tsv",
    } <= paths
    assert done["log"].rstrip().endswith("Execution complete -- Goodbye")
    # Outputs download through the existing paths (docs/protocol.md §5.1, §5.2).
    report = client.get(f"executions/{run['id']}/multiqc_report.html")
    assert report.status_code == 200 and b"MultiQC" in report.content
    html = next(o for o in done["outputs"] if o["filename"] == "multiqc_report.html")
    asset = client.get(f"downloads/{html['id']}/multiqc_report_data/multiqc.log")
    assert asset.status_code == 200 and b"MultiQC" in asset.content


def test_detail_follows_the_notes(server: FlowServer, client: httpx.Client) -> None:
    run = _start(client)
    server.step_execution(run["id"], FINISH)
    detail = client.get(f"executions/{run['id']}").json()
    assert detail["sample"] == {"id": _sample_id(client), "name": "liver_1"}
    assert set(detail["project"]) == {"id", "name"}
    assert detail["pipeline"]["name"] == "3.14.0"
    assert detail["pipeline"]["pipeline"] == {"id": "1", "name": "RNA-Seq"}
    assert detail["pipeline"]["schema"]["inputs"]
    assert detail["retries"] is None

    trimmed = client.get(
        f"executions/{run['id']}", params=[("include", "status"), ("include", "identifier")]
    ).json()
    assert trimmed == {"identifier": detail["identifier"], "status": "OK"}
    without = client.get(f"executions/{run['id']}", params={"exclude": "log"}).json()
    assert "log" not in without and without["status"] == "OK"
    both = client.get(f"executions/{run['id']}", params={"include": "status", "exclude": "log"})
    assert both.status_code == 400
    assert client.get(f"executions/{run['id']}", params={"log": "x"}).status_code == 400


def test_log_offsets_tail_the_log_without_repeating(
    server: FlowServer, client: httpx.Client
) -> None:
    run = _start(client)
    path = f"executions/{run['id']}"
    pieces: list[str] = []
    offset = 0
    for _ in range(8):
        server.step_execution(run["id"], 40)
        text = client.get(path, params={"log": offset, "include": "log"}).json()["log"]
        pieces.append(text)
        offset += len(text.encode())
    server.step_execution(run["id"], FINISH)
    pieces.append(client.get(path, params={"log": offset}).json()["log"])
    full = client.get(path).json()["log"]
    assert "".join(pieces) == full
    assert sum(1 for piece in pieces if piece) >= 6
    past_end = client.get(path, params={"log": len(full.encode()) + 100}).json()["log"]
    assert past_end == ""


def test_the_failing_pipeline_ends_in_error_with_stderr(
    server: FlowServer, client: httpx.Client
) -> None:
    version = client.get("pipelines/4").json()["versions"][0]["id"]
    run = _start(client, version, params={})
    server.step_execution(run["id"], FINISH)
    failed = client.get(f"executions/{run['id']}").json()
    assert failed["status"] == "ERROR"
    assert "java.lang.OutOfMemoryError" in failed["stderr"]
    steps = failed["process_executions"]
    assert steps[-1]["status"] == "FAILED" and steps[-1]["exit_code"] == 137
    assert [s["status"] for s in steps[:-1]] == ["COMPLETED", "COMPLETED"]
    assert "MULTIQC" not in {s["name"] for s in steps}  # nothing runs after the failure


def test_knobs_fail_and_cancel_a_running_execution(
    server: FlowServer, client: httpx.Client
) -> None:
    failing = _start(client)
    server.step_execution(failing["id"], 10)
    assert server.fail_execution(failing["id"], "disk quota exceeded") == "ERROR"
    failed = client.get(f"executions/{failing['id']}").json()
    assert failed["status"] == "ERROR" and "disk quota exceeded" in failed["stderr"]
    assert failed["process_executions"][-1]["stderr"].strip() == "disk quota exceeded"

    canceling = _start(client)
    assert server.cancel_execution(canceling["id"]) == "CANCELED"
    canceled = client.get(f"executions/{canceling['id']}").json()
    assert canceled["status"] == "CANCELED" and canceled["finished"] is not None
    with pytest.raises(Exception, match="409"):
        server.cancel_execution(canceling["id"])  # already finished


def test_a_server_that_ignores_log_offsets_can_be_simulated(
    server: FlowServer, client: httpx.Client
) -> None:
    run = _start(client)
    server.step_execution(run["id"], FINISH)
    server.set(execution_log_offsets=False)
    try:
        whole = client.get(f"executions/{run['id']}", params={"log": 100}).json()["log"]
    finally:
        server.set(execution_log_offsets=True)
    assert whole == client.get(f"executions/{run['id']}").json()["log"]


def test_runs_move_in_real_time_when_the_speed_is_set(
    server: FlowServer, client: httpx.Client
) -> None:
    run = _start(client)
    server.set(execution_speed=1e9)
    try:
        detail = client.get(f"executions/{run['id']}").json()
    finally:
        server.set(execution_speed=0)
    assert detail["status"] == "OK"  # the first request after the clock moved finished it
    found = client.get("executions/search", params={"status": "OK"}).json()["executions"]
    assert run["id"] in {e["id"] for e in found}
