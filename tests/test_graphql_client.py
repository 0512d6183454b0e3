"""``client.graphql`` over loopback (#11): execute, typed errors with partial data, cursor
paging across more than two pages, and the bounds that keep paging from looping.

A server that repeats a cursor or claims more pages without one is not something the local
server produces, so those cases use respx.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from legacy_documents import RUN_PIPELINE
from pipeline_helpers import client_for, demo_sample
from upload_helpers import DEMO, config

from flowbio_async import (
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    GraphQLError,
    GraphQLPaginationError,
    TokenCredentials,
)
from flowbio_async.testing import FlowServer
from flowbio_async.testing._demo import DEMO_VERSION_ID
from flowbio_async.testing._graphql_nodes import encode_cursor
from flowbio_sync import Client

PAGE = """query page($after: String, $first: Int) {
  samples(first: $first, after: $after) {
    edges { node { id name } }
    pageInfo { hasNextPage endCursor }
  }
}"""


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    with FlowServer(execution_speed=0) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(server: FlowServer) -> Iterator[None]:
    server.reset()
    yield
    server.clear_faults()


@pytest.mark.anyio
async def test_execute_returns_data(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        data = await client.graphql.execute(
            "query sample($id: ID!) { sample(id: $id) { name sampleType } }", {"id": "1"}
        )
        assert data == {"sample": {"name": "liver_1", "sampleType": "RNA-Seq"}}
        named = await client.graphql.execute(
            "query a { me { username } } query b { me { id } }", operation_name="a"
        )
        assert named == {"me": {"username": "demo"}}


@pytest.mark.anyio
async def test_errors_are_typed_with_partial_data(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        with pytest.raises(GraphQLError) as missing:
            await client.graphql.execute('{ me { username } sample(id: "999") { name } }')
        assert missing.value.data == {"me": {"username": "demo"}, "sample": None}
        assert missing.value.errors[0]["path"] == ["sample"]
        assert str(missing.value).startswith("sample: sample '999' not found")

        with pytest.raises(GraphQLError) as syntax:
            await client.graphql.execute("{ samples { edges ")
        assert syntax.value.status_code == 400 and syntax.value.data is None
        assert "Syntax Error" in str(syntax.value) and "line 1" in str(syntax.value)

        with pytest.raises(GraphQLError) as unknown:
            await client.graphql.execute("{ sample(id: 1) { colour } }")
        assert "Cannot query field 'colour'" in unknown.value.messages[0]

        with pytest.raises(ConfigurationError):
            await client.graphql.execute("   ")


@pytest.mark.anyio
async def test_paginate_follows_cursors_across_pages(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        every = await client.samples.search().all()
        server.reset_counters()
        nodes = [node async for node in client.graphql.paginate(PAGE, "samples", page_size=2)]
        assert [n["name"] for n in nodes] == [s.name for s in every]
        pages = server.counters()["graphql"]
        assert pages == -(-len(every) // 2) and pages > 2

        # A nested connection, dotted.
        nested = """query($id: ID!, $after: String) { project(id: $id) {
            samples(first: 1, after: $after) {
              edges { node { name } } pageInfo { hasNextPage endCursor } } } }"""
        names = [
            n["name"] async for n in client.graphql.paginate(nested, "project.samples", {"id": "1"})
        ]
        assert sorted(names) == ["liver_1", "liver_2", "liver_3", "liver_4"]


@pytest.mark.anyio
async def test_bad_paging_input(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        total = len(await client.samples.search().all())
        past = {"after": encode_cursor("samples", 10_000)}
        with pytest.raises(GraphQLError, match="after: the cursor is past the end") as beyond:
            async for _ in client.graphql.paginate(PAGE, "samples", past):
                pass
        [error] = beyond.value.errors
        assert error["path"] == ["samples"] and beyond.value.data is None
        assert error["extensions"]["field"] == "after" and error["extensions"]["total"] == total
        last = error["extensions"]["last_cursor"]
        assert f"({total} items); valid: " in str(beyond.value) and repr(last) in str(beyond.value)
        # The valid value it names works: after the last item, nothing more.
        assert [n async for n in client.graphql.paginate(PAGE, "samples", {"after": last})] == []
        with pytest.raises(GraphQLError, match="not a cursor of this connection; valid: "):
            async for _ in client.graphql.paginate(PAGE, "samples", {"after": "garbage!"}):
                pass
        with pytest.raises(GraphQLPaginationError, match="samplez: not in the answer"):
            async for _ in client.graphql.paginate(PAGE, "samplez"):
                pass
        no_info = "query($after: String) { samples(after: $after) { edges { node { id } } } }"
        with pytest.raises(GraphQLPaginationError, match="pageInfo"):
            async for _ in client.graphql.paginate(no_info, "samples"):
                pass
        with pytest.raises(GraphQLPaginationError, match="max_pages=2"):
            async for _ in client.graphql.paginate(PAGE, "samples", page_size=1, max_pages=2):
                pass
        for bad in ({"connection": ""}, {"connection": "a..b"}, {"page_size": 0}):
            arguments: dict[str, Any] = {"connection": "samples", **bad}
            with pytest.raises(ConfigurationError):
                async for _ in client.graphql.paginate(PAGE, **arguments):
                    pass


@pytest.mark.anyio
async def test_failing_run_calls_start_no_execution(server: FlowServer, tmp_path: Path) -> None:
    """Every failing way to ask for a run (GraphQL and raw REST) leaves the server's execution
    count unchanged; the one good call adds exactly one, so the count is able to fail."""
    async with client_for(server, tmp_path) as client:
        liver = (await demo_sample(client)).id
        good = {
            "id": str(DEMO_VERSION_ID),
            "nextflowVersion": "24.04.4",
            "params": json.dumps({"genome": "GRCh38"}),
            "dataParams": "{}",
            "sampleParams": json.dumps({"input": [liver]}),
        }
        before = server.execution_count()
        failing: list[tuple[str, dict[str, Any] | None, str]] = [
            (RUN_PIPELINE[:-12], good, "Syntax Error"),  # cut short
            (RUN_PIPELINE.replace("execution { id }", "execution { colour }"), good, "colour"),
            (RUN_PIPELINE, {**good, "params": '{"genome": "hg19"}'}, "genome"),
            (RUN_PIPELINE, {**good, "nextflowVersion": "1.0"}, "nextflow_version"),
            (RUN_PIPELINE, {**good, "sampleParams": '{"input": ["99999"]}'}, "99999"),
            (RUN_PIPELINE, {**good, "id": "999"}, "not found"),
            (RUN_PIPELINE, {**good, "params": "{not json"}, "not valid JSON"),
            (RUN_PIPELINE, {k: v for k, v in good.items() if k != "params"}, "$params"),
        ]
        for query, variables, message in failing:
            with pytest.raises(GraphQLError) as refused:
                await client.graphql.execute(query, variables)
            assert message in str(refused.value), (message, str(refused.value))
        with pytest.raises(BadRequestError):
            await client.post_json(
                f"pipelines/versions/{DEMO_VERSION_ID}/run",
                {"params": {}, "data_params": {}, "csv_params": {}, "nextflow_version": "24.04.4"},
            )
        server.set_user("demo", can_run_pipelines=False)
        try:
            with pytest.raises(GraphQLError, match="User cannot run pipelines"):
                await client.graphql.execute(RUN_PIPELINE, good)
        finally:
            server.set_user("demo", can_run_pipelines=True)
        assert server.execution_count() == before

        started = await client.graphql.execute(RUN_PIPELINE, good)
        assert started["runPipeline"]["execution"]["id"]
        assert server.execution_count() == before + 1


@pytest.mark.anyio
async def test_an_expired_token_is_refreshed(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        server.add_fault("expire_token", route="graphql", count=1)
        assert await client.graphql.execute("{ me { username } }") == {"me": {"username": "demo"}}
        assert server.counters()["token"] == 1
    async with AsyncClient(server.url, config(tmp_path / "anon")) as anonymous:
        assert await anonymous.graphql.execute("{ me { id } }") == {"me": None}
        await anonymous.log_in(TokenCredentials("not-a-jwt"), verify=False)
        with pytest.raises(AuthenticationError, match="Not authorized"):
            await anonymous.graphql.execute("{ me { id } }")


def _page(nodes: list[int], has_next: bool, cursor: str | None) -> dict[str, Any]:
    return {
        "data": {
            "samples": {
                "edges": [{"node": {"id": str(n)}} for n in nodes],
                "pageInfo": {"hasNextPage": has_next, "endCursor": cursor},
            }
        }
    }


def _ids(answer: dict[str, Any]) -> list[str]:
    return [e["node"]["id"] for e in answer["data"]["samples"]["edges"]]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ([_page([1], True, "c1"), _page([2], True, "c1")], "gave cursor 'c1' again"),
        ([_page([1], True, "c1"), _page([2], True, "c2"), _page([3], True, "c1")], "again"),
        ([_page([1], True, None)], "no endCursor"),
        ([_page([1], True, "c1"), _page([], True, "c2")], "empty page"),
    ],
)
async def test_paging_never_loops(
    tmp_path: Path, answers: list[dict[str, Any]], message: str
) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post("https://flow.test/api/graphql").mock(
            side_effect=[httpx.Response(200, json=answer) for answer in answers]
        )
        # respx intercepts httpx's own transport, not the default aiohttp engine.
        engine = config(tmp_path, http_engine="httpx")
        async with AsyncClient("https://flow.test/api", engine) as client:
            seen = []
            with pytest.raises(GraphQLPaginationError, match=message):
                async for node in client.graphql.paginate(PAGE, "samples"):
                    seen.append(node["id"])
        assert route.call_count == len(answers)
        first = json.loads(route.calls[0].request.content)
        assert first["variables"] == {"after": None}
        if len(answers) > 1:
            assert json.loads(route.calls[1].request.content)["variables"] == {"after": "c1"}
        assert seen == [str(n) for a in answers for n in _ids(a)]


def test_the_sync_facade_pages_too(server: FlowServer, tmp_path: Path) -> None:
    with Client(server.url, config(tmp_path)) as client:
        client.log_in(DEMO)
        names = [n["name"] for n in client.graphql.paginate(PAGE, "samples", page_size=3)]
        assert names == [s.name for s in client.samples.search().all()]
