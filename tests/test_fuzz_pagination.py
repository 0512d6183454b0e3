"""Fuzzing pagination envelopes (docs/protocol.md §4.3, §8 row 14) with respx.

Whatever a page looks like (bare list, envelope with a wrong ``count``, missing or odd item
lists, not JSON at all), listing must end (no endless paging) and either yield items or raise
``UnexpectedResponseError`` — never an unhandled ``AttributeError``/``JSONDecodeError`` (#7).
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import respx
from hypothesis import given, settings
from hypothesis import strategies as st

from flowbio_async import ClientConfig, FlowError, UnexpectedResponseError
from flowbio_async._http import HttpClient
from flowbio_async._pagination import AsyncPager

BASE = "https://flow.test/api"
CONFIG = ClientConfig(
    backoff_initial=0.001,
    backoff_max=0.002,
    max_retries=0,
    http_engine="httpx",  # respx
)

scalars = st.none() | st.booleans() | st.integers(-5, 500) | st.text(max_size=5)
items = st.lists(st.dictionaries(st.sampled_from(["id", "name"]), scalars, max_size=2), max_size=6)
# Well-formed item lists with every kind of wrong or missing ``count`` and extra keys.
envelopes = st.fixed_dictionaries(
    {},
    optional={"projects": items, "count": scalars | st.floats(allow_nan=False), "page": scalars},
)
odd_envelopes = st.fixed_dictionaries({"projects": scalars | st.dictionaries(st.text(), scalars)})
bodies = st.one_of(
    odd_envelopes.map(json.dumps),
    items.map(json.dumps),
    scalars.map(json.dumps),
    st.text(max_size=20),
)


def _pager(http: HttpClient) -> AsyncPager[Any]:
    return AsyncPager(http, "projects/owned", "projects", lambda raw: raw, page_size=5)


async def _collect(pages: list[str]) -> list[Any] | FlowError:
    served = iter(pages)

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=next(served, "[]").encode())

    http = HttpClient(BASE, CONFIG)
    try:
        with respx.mock() as mock:
            mock.get(f"{BASE}/projects/owned").mock(side_effect=answer)
            try:
                return await _pager(http).all()
            except FlowError as exc:
                return exc
    finally:
        await http.aclose()


@settings(max_examples=150, deadline=None)
@given(pages=st.lists(envelopes.map(json.dumps) | items.map(json.dumps), min_size=1, max_size=4))
def test_well_formed_pages_always_terminate(pages: list[str]) -> None:
    result = anyio.run(_collect, pages)
    if isinstance(result, list):
        assert len(result) <= sum(len(_items(p)) for p in pages)


@settings(max_examples=150, deadline=None)
@given(pages=st.lists(bodies, min_size=1, max_size=3))
def test_malformed_pages_give_typed_errors(pages: list[str]) -> None:
    result = anyio.run(_collect, pages)  # raises if anything untyped escapes
    if isinstance(result, FlowError):
        assert isinstance(result, UnexpectedResponseError) and result.status_code == 200


def test_a_non_json_page_names_the_problem() -> None:
    result = anyio.run(_collect, ["<html>login</html>"])
    assert isinstance(result, UnexpectedResponseError)
    assert "expected a JSON body" in str(result) and "login" in str(result)


def _items(page: str) -> list[Any]:
    body = json.loads(page)
    if isinstance(body, list):
        return body
    found = body.get("projects") if isinstance(body, dict) else None
    return found if isinstance(found, list) else []
