"""Listings port from the official client unchanged (#17 item 1), against the local server.

What was seen: ``await client.samples.get_owned_projects()`` gave the first page only (10 of
25), and on the sync facade ``len(pager)`` raised ``TypeError`` and ``pager[0]`` failed,
although the official ``PageIterator`` is a lazy ``Sequence``. Now ``await`` gives every item,
``async for`` streams, and ``flowbio_sync.Pager`` supports ``len()``, indexing, negative
indices, slices and iteration, fetching each page once, on demand.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

import flowbio_sync
from flowbio_async import AsyncClient, AsyncPager, ClientConfig, UsernamePasswordCredentials
from flowbio_async.testing import FlowServer
from flowbio_async.testing._demo import DEMO_PROJECT_COUNT

DEMO = UsernamePasswordCredentials(username="demo", password="demo-password")
OWNED = "projects_owned"  # the route's name in the server's counters
SERVER_PAGE = 10  # the local server's default page size, as Flow's


@pytest.fixture
async def client(flow_server: FlowServer, tmp_path: Path) -> AsyncIterator[AsyncClient]:
    flow_server.reset()
    config = ClientConfig(show_progress=False, state_dir=tmp_path)
    async with AsyncClient(flow_server.url, config) as client:
        await client.log_in(DEMO)
        yield client


@pytest.fixture
def sync_client(flow_server: FlowServer, tmp_path: Path) -> Iterator[flowbio_sync.Client]:
    flow_server.reset()
    config = ClientConfig(show_progress=False, state_dir=tmp_path)
    with flowbio_sync.Client(flow_server.url, config) as client:
        client.log_in(DEMO)
        yield client


def _requests(server: FlowServer) -> int:
    return server.counters().get(OWNED, 0)


@pytest.mark.anyio
async def test_await_gives_every_item_like_the_official_call(
    flow_server: FlowServer, client: AsyncClient
) -> None:
    projects = await client.samples.get_owned_projects()
    assert len(projects) == DEMO_PROJECT_COUNT == 25  # was 10: the first page only
    assert len({p.id for p in projects}) == 25
    assert _requests(flow_server) == 3  # pages of 10: 10 + 10 + 5
    assert [p.id for p in await client.projects.get_owned()] == [p.id for p in projects]


@pytest.mark.anyio
async def test_count_and_first_page_stay_cheap_and_async_for_streams(
    flow_server: FlowServer, client: AsyncClient
) -> None:
    pager = client.samples.get_owned_projects()
    assert await pager.count() == 25
    assert _requests(flow_server) == 1  # the total is read from the first page
    assert len(await pager.first_page()) == SERVER_PAGE
    assert _requests(flow_server) == 1  # the first page was kept
    seen: list[tuple[str, int]] = []
    async for project in pager:
        seen.append((project.id, _requests(flow_server)))
    # Streamed: the second page was asked for only once the first ten had been handed out.
    assert [requests for _, requests in seen] == [1] * 10 + [2] * 10 + [3] * 5
    assert len(await pager) == 25 and _requests(flow_server) == 3  # nothing fetched twice
    assert await pager.page(3) == (await pager)[20:]


@pytest.mark.anyio
async def test_indexing_fetches_only_the_pages_it_needs(
    flow_server: FlowServer, client: AsyncClient
) -> None:
    pager = client.samples.get_owned_projects(page_size=4)
    every = [p.id async for p in client.samples.get_owned_projects(page_size=4)]
    flow_server.reset_counters()
    assert (await pager.at(5)).id == every[5]
    assert _requests(flow_server) == 2  # pages 1 and 2 of 4
    assert [p.id for p in await pager.at(slice(2, 7))] == every[2:7]
    assert _requests(flow_server) == 2
    assert (await pager.at(-1)).id == every[-1]  # from the end: every page
    assert _requests(flow_server) == 7
    assert [p.id for p in await pager.at(slice(-3, None))] == every[-3:]
    with pytest.raises(IndexError, match="out of range"):
        await pager.at(25)
    assert _requests(flow_server) == 7


@pytest.mark.anyio
async def test_two_consumers_of_one_pager_fetch_each_page_once(
    flow_server: FlowServer, client: AsyncClient
) -> None:
    pager = client.samples.get_owned_projects(page_size=3)
    results: list[list[str]] = []

    async def consume() -> None:
        results.append([p.id async for p in pager])

    async with anyio.create_task_group() as group:
        for _ in range(4):
            group.start_soon(consume)
    assert len(results) == 4 and all(ids == results[0] for ids in results)
    assert len(results[0]) == 25
    assert _requests(flow_server) == 9  # ceil(25 / 3), once each


@pytest.mark.anyio
async def test_a_total_that_lies_cannot_make_a_listing_loop(
    flow_server: FlowServer, client: AsyncClient
) -> None:
    # Page 2 comes back empty although the server's count says 10,000: the listing ends.
    flow_server.add_fault(
        "status",
        path="^/api/projects/owned$",
        nth=2,
        count=0,
        status=200,
        body={"count": 10_000, "page": 2, "projects": []},
    )
    try:
        pager = client.projects.get_owned(page_size=5)
        assert await pager.count() == 25  # what the server says, after one page
        assert len(await pager) == 5  # page 2 said 10,000 but was empty: the listing ended
        assert await pager.count() == 5  # every page fetched: what was really listed
    finally:
        flow_server.clear_faults()


def _listing_methods(client: AsyncClient) -> set[str]:
    """``resource.method`` for every public method of the client returning an AsyncPager."""
    found = set()
    for name, member in inspect.getmembers(AsyncClient):
        if name.startswith("_") or not isinstance(member, property):
            continue
        resource = getattr(client, name)
        for method_name, method in inspect.getmembers(type(resource), inspect.isfunction):
            returned = str(inspect.signature(method).return_annotation)
            if not method_name.startswith("_") and returned.startswith("AsyncPager"):
                found.add(f"{name}.{method_name}")
    for method_name, method in inspect.getmembers(AsyncClient, inspect.isfunction):
        if str(inspect.signature(method).return_annotation).startswith("AsyncPager"):
            found.add(method_name)
    return found


LISTINGS: dict[str, Callable[[AsyncClient], Any]] = {
    "samples.get_owned_projects": lambda c: c.samples.get_owned_projects(page_size=2),
    "samples.search": lambda c: c.samples.search(page_size=2),
    "samples.get_data": lambda c: c.samples.get_data("1", page_size=1),
    "samples.get_executions": lambda c: c.samples.get_executions("1", page_size=1),
    "projects.get_owned": lambda c: c.projects.get_owned(page_size=2),
    "projects.search": lambda c: c.projects.search(page_size=2),
    "projects.get_samples": lambda c: c.projects.get_samples("1", page_size=2),
    "projects.get_executions": lambda c: c.projects.get_executions("1", page_size=2),
    "data.search": lambda c: c.data.search(page_size=2),
    "executions.search": lambda c: c.executions.search(page_size=2),
    "users.search": lambda c: c.users.search(page_size=1),
    "files.list": lambda c: c.files.list("ws_rule"),
}


@pytest.mark.anyio
async def test_every_listing_of_the_sdk_is_covered_below(client: AsyncClient) -> None:
    """A listing added later (GraphQL, imports...) must join :data:`LISTINGS`."""
    assert _listing_methods(client) == set(LISTINGS)


@pytest.mark.anyio
@pytest.mark.parametrize("name", sorted(LISTINGS))
async def test_every_listing_follows_the_one_rule(
    client: AsyncClient, tmp_path: Path, name: str
) -> None:
    if name == "files.list":
        for index in range(3):
            (tmp_path / f"{index}.txt").write_text(str(index))
            await client.files.upload(tmp_path / f"{index}.txt", workspace_id="ws_rule")
    listing = LISTINGS[name]
    everything = await listing(client)
    assert isinstance(everything, list) and everything, name
    streamed = [item async for item in listing(client)]
    assert streamed == everything
    pager = listing(client)
    assert isinstance(pager, AsyncPager)
    assert await pager.count() == len(everything)
    assert await pager.first_page() == everything[: len(await pager.first_page())]
    assert await pager.at(-1) == everything[-1]


def test_the_sync_pager_is_a_lazy_sequence(
    flow_server: FlowServer, sync_client: flowbio_sync.Client
) -> None:
    ids = [p.id for p in sync_client.samples.get_owned_projects(page_size=25)]
    flow_server.reset_counters()
    projects = sync_client.samples.get_owned_projects()
    assert isinstance(projects, flowbio_sync.Pager) and isinstance(projects, Sequence)
    assert len(projects) == 25  # was TypeError: the server's count, after one page
    assert _requests(flow_server) == 1
    assert projects[0].id == projects.first_page()[0].id  # was a failure: indexing
    assert _requests(flow_server) == 1
    assert projects[12].id == ids[12]  # fetches page 2 only
    assert _requests(flow_server) == 2
    last = projects[-1]
    assert _requests(flow_server) == 3
    every = list(projects)
    assert [p.id for p in every] == ids and every[-1] == last
    assert projects[3:6] == every[3:6] and projects[-3:] == every[-3:]
    assert projects[::5] == every[::5]
    assert every[7] in projects and projects.index(every[7]) == 7
    assert projects.count() == 25 and projects.count(every[7]) == 1
    assert list(reversed(projects)) == every[::-1]
    assert projects.all() == every
    with pytest.raises(IndexError):
        projects[25]
    assert _requests(flow_server) == 3  # every page was fetched once
    assert "Pager(" in repr(projects)


def test_sync_indexing_of_a_fresh_pager_is_lazy(
    flow_server: FlowServer, sync_client: flowbio_sync.Client
) -> None:
    ids = [p.id for p in sync_client.projects.get_owned(page_size=25)]
    flow_server.reset_counters()
    projects = sync_client.projects.get_owned(page_size=5)
    assert projects[7].id == ids[7]
    assert _requests(flow_server) == 2  # pages 1 and 2 of five, not all five pages
    walked = []
    for project in projects:
        walked.append(project.id)
        if len(walked) == 11:
            break
    assert walked == ids[:11]
    assert _requests(flow_server) == 3  # iteration went on from the pages it had, no further
    assert [p.id for p in projects] == ids
    assert _requests(flow_server) == 5  # each page of five once: nothing was fetched twice
