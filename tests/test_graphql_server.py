"""The local server's GraphQL endpoint over loopback (#11).

The official legacy client's documents (``legacy_documents``) run unchanged, sent the way
that client sends them: ``POST <base>/graphql`` with a JSON body and the bare JWT in
``Authorization`` (no ``Bearer``, docs/protocol.md §2.4). Bad requests are GraphQL ``errors``
answers with the status GraphQL over HTTP gives them, never a 500; a refused ``runPipeline``
starts nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from legacy_documents import (
    ACCESS_TOKEN,
    DATA,
    EXECUTION,
    LOGIN,
    PIPELINE,
    RUN_PIPELINE,
    SAMPLE,
    USER,
)
from server_helpers import api

from flowbio_async.testing import FlowServer
from flowbio_async.testing._demo import DEMO_VERSION_ID

FINISH = 100_000.0
NEW_MEDIA = "application/graphql-response+json"


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    with FlowServer(execution_speed=0) as running:
        yield running


@pytest.fixture
def legacy(server: FlowServer) -> Iterator[httpx.Client]:
    """Logged in as the legacy client does: the login mutation, then the bare token."""
    with httpx.Client(base_url=server.url + "/", timeout=30) as client:
        answer = client.post(
            "graphql",
            json={"query": LOGIN, "variables": {"username": "demo", "password": "demo-password"}},
        )
        assert answer.status_code == 200, answer.text
        token = answer.json()["data"]["login"]["accessToken"]
        assert "flow_refresh_token" in answer.cookies
        client.headers["Authorization"] = token  # no "Bearer": flowbio/client.py
        yield client


def run(client: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> Any:
    answer = client.post("graphql", json={"query": query, "variables": variables})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "errors" not in body, body
    return body["data"]


def errors_of(answer: httpx.Response) -> list[str]:
    return [error["message"] for error in answer.json()["errors"]]


def _sample_id(client: httpx.Client, name: str) -> str:
    data = run(
        client,
        "query($n: String) { samples(name: $n) { edges { node { id name } } } }",
        {"n": name},
    )
    [edge] = [e for e in data["samples"]["edges"] if e["node"]["name"] == name]
    return str(edge["node"]["id"])


def test_the_legacy_documents_run_unchanged(server: FlowServer, legacy: httpx.Client) -> None:
    # PipelinesClient.run_pipeline: look the version up by names, then runPipeline.
    categories = run(legacy, PIPELINE)["pipelineCategories"]
    pipelines = [p for c in categories for s in c["subcategories"] for p in s["pipelines"]]
    lookup = {p["name"]: {p["version"]["name"]: p["version"]["id"]} for p in pipelines}
    assert lookup["RNA-Seq"] == {"3.14.0": str(DEMO_VERSION_ID)}
    liver = _sample_id(legacy, "liver_1")
    before = server.execution_count()
    started = run(
        legacy,
        RUN_PIPELINE,
        {
            "id": lookup["RNA-Seq"]["3.14.0"],
            "nextflowVersion": "24.04.4",
            "params": json.dumps({"genome": "GRCh38"}),
            "dataParams": json.dumps({}),
            "sampleParams": json.dumps({"input": [liver]}),
            "genome": None,
        },
    )
    execution_id = started["runPipeline"]["execution"]["id"]
    assert server.execution_count() == before + 1

    queued = run(legacy, EXECUTION, {"id": execution_id})["execution"]
    assert queued["status"] == "" and queued["processExecutions"] == []
    assert queued["pipelineVersion"]["name"] == "3.14.0"
    assert json.loads(queued["params"])["genome"] == "GRCh38"
    assert json.loads(queued["sampleParams"])["input"]["rows"][0]["sample"] == liver
    assert json.loads(queued["pipelineVersion"]["schema"])["inputs"]
    assert [s["name"] for s in queued["upstreamSamples"]] == ["liver_1"]
    assert queued["canEdit"] and queued["owner"]["username"] == "demo"

    assert server.step_execution(execution_id, FINISH) == "OK"
    done = run(legacy, EXECUTION, {"id": execution_id})["execution"]
    assert done["status"] == "OK" and done["hasReport"] and done["log"]
    steps = done["processExecutions"]
    assert steps and all(step["status"] == "COMPLETED" for step in steps)
    outputs = [d for step in steps for d in step["downstreamData"]]
    report = next(d for d in outputs if d["filename"] == "multiqc_report.html")
    assert report["owner"] == {"name": "Demo User"} and report["isRemoved"] is False
    assert done["taskStarted"] is not None and done["taskFinished"] is not None

    # UploadClient.data: the output, with the step that wrote it.
    data = run(legacy, DATA, {"id": report["id"]})["data"]
    assert data["filename"] == "multiqc_report.html" and data["isBinary"] is False
    upstream = data["upstreamProcessExecution"]
    assert upstream["processName"].endswith("MULTIQC")
    assert upstream["execution"]["id"] == execution_id
    assert upstream["execution"]["pipelineVersion"]["pipeline"]["name"] == "RNA-Seq"
    assert data["genome"] is None and data["owner"]["username"] == "demo"

    # SamplesClient.sample
    sample = run(legacy, SAMPLE, {"id": liver})["sample"]
    assert sample["name"] == "liver_1" and sample["sampleType"] == "RNA-Seq"
    assert [d["data"]["filename"] for d in sample["initialData"]] == [
        "liver_1_R1.fastq.gz",
        "liver_1_R2.fastq.gz",
    ]
    assert sample["strandedness"] == "reverse" and sample["organism"]["id"] == "Hs"
    assert sample["project"]["name"] == "Liver RNA-Seq"

    # Client.user and Client.refresh_token
    assert run(legacy, USER, {"username": "other"})["user"]["username"] == "other"
    fresh = run(legacy, ACCESS_TOKEN)["accessToken"]
    legacy.headers["Authorization"] = fresh
    assert run(legacy, "{ me { username } }")["me"]["username"] == "demo"


def test_bearer_and_anonymous_callers(server: FlowServer) -> None:
    with api(server) as bearer:  # the v2 way: Authorization: Bearer <jwt>
        assert run(bearer, "{ me { username } }")["me"]["username"] == "demo"
    with api(server, credentials=None) as anonymous:
        assert run(anonymous, "{ me { username } }")["me"] is None
        found = run(anonymous, "{ samples(first: 100) { edges { node { name } } } }")
        assert {e["node"]["name"] for e in found["samples"]["edges"]} == {"atlas_1"}
        hidden = anonymous.post("graphql", json={"query": "{ sample(id: 1) { name } }"}).json()
        assert hidden["data"] == {"sample": None}
        assert hidden["errors"][0]["path"] == ["sample"]
    with httpx.Client(base_url=server.url + "/") as forged:
        answer = forged.post(
            "graphql", json={"query": "{ me { id } }"}, headers={"Authorization": "not-a-jwt"}
        )
        assert answer.status_code == 401  # so a client refreshes its token
        assert errors_of(answer) == ["Not authorized"]


@pytest.mark.parametrize(
    ("body", "new_status", "message"),
    [
        ({"query": "{ samples { edges { node { id } }"}, 400, "Syntax Error"),
        ({"query": "{ nope }"}, 400, "Cannot query field 'nope'"),
        ({"query": "{ samples { edges { node { colour } } } }"}, 400, "'colour'"),
        ({"query": "query($id: ID!) { sample(id: $id) { id } }"}, 400, "$id"),
        ({"query": "query a { me { id } } query b { me { id } }"}, 400, "operation name"),
        ({"query": "{ me { id } }", "operationName": "missing"}, 400, "missing"),
        ({"query": "{ me { id } }", "variables": [1]}, 400, "variables"),
        ({"query": ""}, 400, "query"),
        ({"nothing": True}, 400, "query"),
    ],
)
def test_bad_requests_get_graphql_errors(
    server: FlowServer, body: dict[str, Any], new_status: int, message: str
) -> None:
    """GraphQL over HTTP: 200 under application/json for a document the server could read
    as a request; 400 under application/graphql-response+json; never a 500."""
    with api(server) as client:
        legacy = client.post("graphql", json=body)
        modern = client.post("graphql", json=body, headers={"Accept": NEW_MEDIA})
    malformed = "query" not in body or not body["query"] or "variables" in body
    assert legacy.status_code == (400 if malformed else 200)
    assert legacy.headers["content-type"].startswith("application/json")
    assert modern.status_code == new_status
    assert modern.headers["content-type"].startswith(NEW_MEDIA)
    for answer in (legacy, modern):
        assert any(message in text for text in errors_of(answer)), answer.text
        assert answer.json().get("data") is None


def test_not_json_and_get(server: FlowServer) -> None:
    with api(server) as client:
        garbage = client.post(
            "graphql", content=b"{nope", headers={"Content-Type": "application/json"}
        )
        assert garbage.status_code == 400 and "not valid JSON" in errors_of(garbage)[0]
        form = client.post("graphql", data={"query": "{ me { id } }"})
        assert form.status_code == 415
        got = client.get("graphql", params={"query": "{ me { username } }"})
        assert got.status_code == 200 and got.json()["data"]["me"]["username"] == "demo"
        mutation = client.get(
            "graphql",
            params={"query": 'mutation { login(username: "a", password: "b") { accessToken } }'},
        )
        assert mutation.status_code == 405


def test_a_refused_run_starts_nothing(server: FlowServer, legacy: httpx.Client) -> None:
    liver = _sample_id(legacy, "liver_1")
    variables = {
        "id": str(DEMO_VERSION_ID),
        "nextflowVersion": "1.0",
        "params": json.dumps({"genome": "hg19"}),
        "dataParams": "{}",
        "sampleParams": json.dumps({"input": [liver, "99999"]}),
    }
    before = server.execution_count()
    answer = legacy.post("graphql", json={"query": RUN_PIPELINE, "variables": variables})
    assert answer.status_code == 200
    [error] = answer.json()["errors"]
    assert error["path"] == ["runPipeline"] and answer.json()["data"] == {"runPipeline": None}
    fields = error["extensions"]["fields"]
    assert set(fields) == {"genome", "input", "nextflow_version"}
    assert "99999" in fields["input"][0] and "genome" in error["message"]

    bad_json = {**variables, "params": "{not json"}
    answer = legacy.post("graphql", json={"query": RUN_PIPELINE, "variables": bad_json})
    assert "not valid JSON" in errors_of(answer)[0]
    unknown = {**variables, "id": "999"}
    answer = legacy.post("graphql", json={"query": RUN_PIPELINE, "variables": unknown})
    assert "not found" in errors_of(answer)[0]

    server.set_user("demo", can_run_pipelines=False)
    try:
        fine = {
            **variables,
            "nextflowVersion": "24.04.4",
            "params": '{"genome": "GRCh38"}',
            "sampleParams": json.dumps({"input": [liver]}),
        }
        answer = legacy.post("graphql", json={"query": RUN_PIPELINE, "variables": fine})
        assert errors_of(answer) == ["User cannot run pipelines"]
    finally:
        server.set_user("demo", can_run_pipelines=True)
    assert server.execution_count() == before


def test_login_refused(server: FlowServer) -> None:
    with httpx.Client(base_url=server.url + "/") as client:
        answer = client.post(
            "graphql", json={"query": LOGIN, "variables": {"username": "demo", "password": "x"}}
        )
        assert answer.status_code == 200 and errors_of(answer) == ["Invalid credentials"]
        assert "flow_refresh_token" not in answer.cookies
        nobody = client.post("graphql", json={"query": ACCESS_TOKEN})
        assert errors_of(nobody) == ["Not authorized"]


def test_connections_page_by_cursor(server: FlowServer) -> None:
    query = """query page($after: String) { samples(first: 2, after: $after) {
        edges { cursor node { id name } } pageInfo { hasNextPage endCursor } totalCount } }"""
    with api(server) as client:
        rest = client.get("samples/search", params={"count": 100}).json()["samples"]
        names, after, pages = [], None, 0
        while True:
            page = run(client, query, {"after": after})["samples"]
            names += [e["node"]["name"] for e in page["edges"]]
            pages += 1
            assert page["totalCount"] == len(rest)
            if not page["pageInfo"]["hasNextPage"]:
                break
            assert pages < len(rest), "the connection keeps claiming more pages"
            after = page["pageInfo"]["endCursor"]
        assert pages > 2 and names == [s["name"] for s in rest]  # newest first, like REST
        # After the last item: an empty page. Past it: an error naming the argument.
        last = run(client, query, {"after": after})["samples"]
        tail = run(client, query, {"after": last["edges"][-1]["cursor"]})["samples"]
        assert tail["edges"] == [] and tail["pageInfo"]["hasNextPage"] is False
        from flowbio_async.testing._graphql_nodes import encode_cursor

        past = client.post(
            "graphql", json={"query": query, "variables": {"after": encode_cursor("samples", 500)}}
        )
        assert "after: the cursor is past the end" in errors_of(past)[0]
        [error] = past.json()["errors"]
        assert error["extensions"] == {
            "code": "BAD_USER_INPUT",
            "field": "after",
            "total": len(rest),
            "last_cursor": last["edges"][-1]["cursor"],
        }
        named = error["extensions"]["last_cursor"]
        assert f"valid: the cursor of one of its items (the last is '{named}')" in error["message"]
        empty = client.post(
            "graphql",
            json={
                "query": """query($after: String) { samples(name: "no-such-sample", after: $after)
                    { edges { node { id } } } }""",
                "variables": {"after": encode_cursor("samples", 0)},
            },
        )
        assert "(0 items); valid: none: the connection is empty" in errors_of(empty)[0]
        other = client.post(
            "graphql", json={"query": query, "variables": {"after": encode_cursor("executions", 0)}}
        )
        assert "not a cursor of this connection" in errors_of(other)[0]
        big = client.post("graphql", json={"query": "{ samples(first: 500) { totalCount } }"})
        assert "first: must be between 0 and 100" in errors_of(big)[0]
