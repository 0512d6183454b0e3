"""The client core against the local Flow server over loopback (the ``flow_server`` fixture)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import anyio
import pytest

from flowbio_async import (
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    ClientConfig,
    ConfigurationError,
    FlowConnectionError,
    FlowTimeoutError,
    NotFoundError,
    ServerError,
    TokenCredentials,
    UsernamePasswordCredentials,
)
from flowbio_async.testing import FlowServer
from flowbio_async.testing._demo import DEMO_PIPELINE_ID, DEMO_VERSION_ID

CONFIG = ClientConfig(show_progress=False, backoff_initial=0.01, backoff_max=0.05)
DEMO = UsernamePasswordCredentials(username="demo", password="demo-password")


@pytest.fixture
async def client(flow_server: FlowServer) -> AsyncIterator[AsyncClient]:
    flow_server.reset()
    async with AsyncClient(flow_server.url, CONFIG) as client:
        await client.log_in(DEMO)
        yield client


@pytest.mark.anyio
async def test_login_me_and_logout(flow_server: FlowServer) -> None:
    async with AsyncClient(flow_server.url, CONFIG) as client:
        with pytest.raises(AuthenticationError):
            await client.me()  # users.md: /me is 401 without a token (#15 item 2)
        await client.log_in(DEMO)
        me = await client.me()
        assert (me.id, me.username) == ("1", "demo")
        assert client.is_logged_in
        await client.log_out()
        assert not client.is_logged_in
        with pytest.raises(AuthenticationError):
            await client.me()


@pytest.mark.anyio
async def test_bad_credentials_and_bad_input(flow_server: FlowServer) -> None:
    async with AsyncClient(flow_server.url, CONFIG) as client:
        with pytest.raises(BadRequestError) as info:
            await client.log_in(UsernamePasswordCredentials("demo", "wrong-password"))
        assert info.value.status_code == 400
        assert not client.is_logged_in
        with pytest.raises(AuthenticationError):
            await client.samples.get_owned_projects()
    with pytest.raises(ConfigurationError):
        AsyncClient("ftp://127.0.0.1/api")
    with pytest.raises(ConfigurationError):
        UsernamePasswordCredentials("demo", "")
    with pytest.raises(ConfigurationError):
        AsyncClient(flow_server.url).samples.search(page_size=101)


@pytest.mark.anyio
async def test_token_credentials_reuse_a_login(
    flow_server: FlowServer, client: AsyncClient
) -> None:
    token = client._http.auth.token
    assert token is not None
    async with AsyncClient(flow_server.url, CONFIG) as second:
        await second.log_in(TokenCredentials(token))
        assert (await second.me()).username == "demo"
        # A token is checked at login (GET /me); a broken one fails right there.
        with pytest.raises(AuthenticationError):
            await second.log_in(TokenCredentials("not-a-valid-token"))
        assert not second.is_logged_in
        # Unchecked, it fails at the first call: no refresh cookie to recover with
        # (docs/protocol.md §2.2).
        await second.log_in(TokenCredentials("not-a-valid-token"), verify=False)
        with pytest.raises(AuthenticationError):
            await second.projects.get_owned()


@pytest.mark.anyio
async def test_token_a_server_downgrades_to_anonymous_fails_at_login(
    flow_server: FlowServer,
) -> None:
    """docs/protocol.md §8 row 5: some servers answer an unknown token as for nobody, not with
    401."""
    flow_server.set(anonymous_downgrade=True)
    try:
        async with AsyncClient(flow_server.url, CONFIG) as client:
            with pytest.raises(AuthenticationError, match="anonymous"):
                await client.log_in(TokenCredentials("garbage"))
            assert not client.is_logged_in
            await client.log_in(TokenCredentials("garbage"), verify=False)
            assert (await client.me()).id is None  # what unchecked callers would live with
    finally:
        flow_server.set(anonymous_downgrade=False)


@pytest.mark.anyio
async def test_pagination_over_many_pages(flow_server: FlowServer, client: AsyncClient) -> None:
    pager = client.samples.get_owned_projects(page_size=4)
    first = await pager.first_page()
    assert len(first) == 4
    total = await pager.count()
    assert total >= 13  # demo data: more than three pages of four
    flow_server.reset_counters()
    projects = [project async for project in pager]
    assert len(projects) == total
    assert len({p.id for p in projects}) == total
    assert flow_server.counters()["projects_owned"] == -(-total // 4) - 1  # page 1 was cached
    assert [p.id for p in await pager.page(2)] == [p.id for p in projects[4:8]]
    assert await pager.page(1000) == []
    assert flow_server.counters()["projects_owned"] == -(-total // 4) - 1  # every page kept
    default_size = await client.projects.get_owned().all()  # server default page size
    assert [p.id for p in default_size] == [p.id for p in projects]


@pytest.mark.anyio
async def test_iteration_stops_on_empty_page_even_if_count_lies(
    flow_server: FlowServer, client: AsyncClient
) -> None:
    # Answer pages past the 2nd with an inflated count and no items (docs/protocol.md §8 row 14).
    flow_server.add_fault(
        action="status",
        path="^/api/projects/owned$",
        nth=3,  # the third request of the listing below asks for page 3
        status=200,
        body={"count": 10_000, "page": 3, "projects": []},
    )
    try:
        seen = [p async for p in client.projects.get_owned(page_size=5)]
    finally:
        flow_server.clear_faults()
    assert len(seen) == 10


@pytest.mark.anyio
async def test_fifty_concurrent_401s_cost_one_refresh(
    flow_server: FlowServer, client: AsyncClient
) -> None:
    # Keep the login's refresh cookie but replace the access token with one the server rejects.
    client._http.auth.set("expired-access-token", refreshable=True)
    flow_server.reset_counters()
    statuses: list[int] = []

    async def read_owned() -> None:
        statuses.append(len(await client.projects.get_owned(page_size=1).first_page()))

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(read_owned)
    assert statuses == [1] * 50
    assert flow_server.counters()["token"] == 1
    assert (await client.me()).username == "demo"


@pytest.mark.anyio
async def test_tokens_never_reach_logs_or_reprs(
    flow_server: FlowServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with AsyncClient(flow_server.url, CONFIG) as client:
        await client.log_in(DEMO)
        token = client._http.auth.token
        assert token
        await client.me()
        client._http.auth.set("bad-token", refreshable=True)
        await client.me()  # refreshes through the cookie
        with pytest.raises(NotFoundError) as info:
            await client.data.get("999999")
        new_token = client._http.auth.token
        assert new_token and new_token != token
        for text in (caplog.text, repr(client), str(info.value), repr(info.value), repr(DEMO)):
            for secret in (token, new_token, "demo-password"):
                assert secret not in text
    assert "GET" in caplog.text  # requests are logged, without credentials


@pytest.mark.anyio
async def test_discovery_reads(client: AsyncClient) -> None:
    types = await client.samples.get_types()
    assert "RNA-Seq" in {t.identifier for t in types}
    assert (await client.samples.get_type("RNA-Seq")).name == "RNA-Seq"
    with pytest.raises(NotFoundError):
        await client.samples.get_type("no-such-type")
    attributes = {a.identifier: a for a in await client.samples.get_metadata_attributes()}
    assert attributes["strandedness"].options == ["forward", "reverse", "unstranded"]
    assert "RNA-Seq" in attributes["strandedness"].required_for_sample_types
    assert attributes["scientist"].options is None  # free text
    organisms = {o.id: o for o in await client.samples.get_organisms()}
    assert organisms["Hs"].latin_name == "Homo sapiens"
    assert "fastq" in {t.identifier for t in await client.data.get_types()}


@pytest.mark.anyio
async def test_samples_data_and_executions(client: AsyncClient) -> None:
    samples = await client.samples.search(organism="Hs", created_after="2024-01-01").all()
    assert samples and all(s.organism and s.organism.id == "Hs" for s in samples)
    assert await client.samples.search(created_after="2100-01-01").all() == []
    sample = await client.samples.get(samples[0].id)
    assert sample.id == samples[0].id and sample.sample_type is not None

    data = await client.samples.get_data(sample.id).all()
    assert data
    detail = await client.data.get(data[0].id)
    assert detail.filename == data[0].filename and detail.size and detail.size > 0
    assert detail.download_url and detail.download_url.endswith(f"/{detail.filename}")

    executions = await client.executions.search(owned=True, status="OK").all()
    assert executions and all(e.is_terminal for e in executions)
    execution = await client.executions.get(executions[0].id)
    outputs = await client.executions.get_outputs(execution.id)
    assert outputs and [o.id for o in outputs] == [o.id for o in execution.outputs]
    assert all(o.filename and o.download_url for o in outputs)
    assert len({o.id for o in outputs}) == len(outputs)  # gathered once across fields


@pytest.mark.anyio
async def test_readers_use_flows_filters_and_shapes(client: AsyncClient) -> None:
    """The readers' filters reach the server as Flow names them, and the models read the
    shapes Flow answers with (#15): id links, ISO dates on sample sub-resources, retries."""
    [failed] = await client.executions.search(terminal="exit status 137").all()
    assert failed.identifier == "demo-run-2" and failed.status == "ERROR"
    long_runs = await client.executions.search(duration_gt=3000, pipeline=DEMO_PIPELINE_ID).all()
    assert {e.identifier for e in long_runs} == {"demo-run-1", "demo-run-2"}
    retries = client.executions.search(pipeline_versions=[DEMO_VERSION_ID], duration_lt=60)
    [retry] = await retries.all()
    assert retry.retries and retry.retries.identifier == "demo-run-2"
    assert failed.fileset and failed.fileset.name == failed.sample_name == "liver_2"
    [liver_2] = await client.samples.search(name="liver_2").all()
    on_sample = await client.samples.get_executions(liver_2.id).all()
    assert [e.identifier for e in on_sample] == ["demo-run-3", "demo-run-2"]
    assert on_sample[1].created == failed.created  # ISO here, a Unix int on the search
    assert on_sample[1].retried_by and on_sample[1].retried_by.identifier == "demo-run-3"

    [first] = await client.data.search(is_single=False, pattern=r"^liver_1_R1").all()
    detail = await client.data.get(first.id)
    assert detail.sample and detail.sample.name == "liver_1"
    assert detail.project and detail.project.name == "Liver RNA-Seq"
    assert detail.paired and detail.paired.filename == "liver_1_R2.fastq.gz"
    counts = await client.data.search(process_execution="featurecounts", pipeline="1").all()
    assert [d.filename for d in counts] == ["all.gene_counts.tsv"]


@pytest.mark.anyio
async def test_projects_users_and_global_search(client: AsyncClient) -> None:
    owned = await client.projects.get_owned().all()
    project = await client.projects.get(owned[0].id)
    assert project.id == owned[0].id
    with pytest.raises(NotFoundError):
        await client.projects.get("999999")
    assert await client.projects.search(name=project.name).count() >= 1
    await client.projects.get_samples(project.id).all()
    await client.projects.get_executions(project.id).all()
    users = await client.users.search(name="demo").all()
    assert "demo" in {u.username for u in users}
    results = await client.search("RNA")
    assert results.query == "RNA"
    assert results.samples or results.projects


@pytest.mark.anyio
async def test_server_faults_are_retried(flow_server: FlowServer, client: AsyncClient) -> None:
    flow_server.add_fault(path="^/api/samples/types$", status=503, count=2)
    try:
        assert await client.samples.get_types()
        flow_server.add_fault(path="^/api/organisms$", status=502, count=100)
        with pytest.raises(ServerError):
            await client.samples.get_organisms()
    finally:
        flow_server.clear_faults()
    flow_server.add_fault(
        path="^/api/data/types$", status=429, count=1, headers={"Retry-After": "1"}
    )
    try:
        assert await client.data.get_types()
    finally:
        flow_server.clear_faults()
    assert client.rate_limit is not None


@pytest.mark.timing
@pytest.mark.anyio
async def test_dropped_and_stalled_connections(flow_server: FlowServer) -> None:
    config = ClientConfig(show_progress=False, backoff_initial=0.01, backoff_max=0.05)
    flow_server.reset()
    async with AsyncClient(flow_server.url, config) as client:
        await client.log_in(DEMO)
        # A GET whose connection is reset is retried (idempotent).
        flow_server.add_fault(action="drop", path="^/api/samples/types$", count=2)
        assert await client.samples.get_types()
        assert flow_server.faults()[0]["applied"] == 2
        flow_server.clear_faults()

        # A POST that may have reached the server is not resent.
        flow_server.add_fault(action="drop", path="^/api/login$", count=0)
        with pytest.raises(FlowConnectionError):
            await client.log_in(DEMO)
        assert flow_server.faults()[0]["applied"] == 1
        flow_server.clear_faults()

    # A server that never answers trips the read timeout, retries included. Only the held
    # requests meet the short timeout (an anonymous client, nothing else to send), and the
    # server holds them far longer, so a slow machine cannot change the verdict (#12).
    short = replace(config, request_timeout=timedelta(seconds=0.5))
    flow_server.add_fault(action="stall", path="^/api/organisms$", count=0, seconds=120)
    async with AsyncClient(flow_server.url, short) as anonymous:
        with pytest.raises(FlowTimeoutError):
            await anonymous.samples.get_organisms()
    assert flow_server.faults()[0]["applied"] == 1 + config.max_retries
    flow_server.clear_faults()


@pytest.mark.anyio
async def test_sample_counts_cover_only_samples_the_caller_can_see(
    client: AsyncClient, flow_server: FlowServer
) -> None:
    from flowbio_async.testing._store import Store

    store = Store(flow_server.data_dir)
    try:
        demo = store.get_user_by_username("demo")
        assert demo is not None
        counts = {
            who: store.scalar(
                "SELECT COUNT(*) FROM samples WHERE sample_type = 'RNA-Seq' "
                "AND (private = 0 OR owner = ?)",
                (owner,),
            )
            for who, owner in (("anonymous", -1), ("demo", demo["id"]))
        }
    finally:
        store.close()

    def rna_count(types: object) -> object:
        assert isinstance(types, list)
        return next(t["sample_count"] for t in types if t["identifier"] == "RNA-Seq")

    mine = (await client._http.request("GET", "samples/types")).json()
    assert rna_count(mine) == counts["demo"]
    async with AsyncClient(flow_server.url, CONFIG) as anonymous:
        theirs = (await anonymous._http.request("GET", "samples/types")).json()
    assert rna_count(theirs) == counts["anonymous"]
    assert counts["demo"] > counts["anonymous"]  # demo owns private RNA-Seq samples
