"""Fuzzing detail reads: a 200 with an odd JSON body must give a typed error (issue #7).

Every resource validates bodies with pydantic (``Model.model_validate`` at ~30 call sites);
a body without ``id`` or of the wrong JSON type raises pydantic's ``ValidationError``, which
is not a ``FlowError``. Kept as a strict xfail until the resources route validation through
one helper that raises ``UnexpectedResponseError`` (reported to the lead).
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st

from flowbio_async import AsyncClient, ClientConfig, FlowError, UnexpectedResponseError

BASE = "https://flow.test/api"
CONFIG = ClientConfig(show_progress=False, max_retries=0)

odd_bodies: st.SearchStrategy[Any] = st.one_of(
    st.just({}),
    st.lists(st.integers(), max_size=3),
    st.integers(),
    st.none(),
    st.fixed_dictionaries({"id": st.none() | st.lists(st.integers(), max_size=2)}),
)


async def _get_data(body: Any) -> FlowError | None:
    async with AsyncClient(BASE, CONFIG) as client:
        with respx.mock() as mock:
            mock.get(f"{BASE}/data/7").mock(return_value=httpx.Response(200, json=body))
            try:
                await client.data.get("7")
            except FlowError as exc:
                return exc
    return None


@pytest.mark.xfail(
    strict=True,
    reason="issue #7: detail reads pass odd 200 bodies to pydantic, whose ValidationError "
    "is not a FlowError (no single validation helper in _resources yet)",
)
@settings(max_examples=30, deadline=None)
@given(body=odd_bodies)
def test_odd_detail_bodies_give_typed_errors(body: Any) -> None:
    anyio.run(_get_data, body)


def test_non_json_detail_body_is_typed() -> None:
    async def run() -> FlowError | None:
        async with AsyncClient(BASE, CONFIG) as client:
            with respx.mock() as mock:
                page = httpx.Response(200, text="<html>proxy login</html>")
                mock.get(f"{BASE}/data/7").mock(return_value=page)
                try:
                    await client.data.get("7")
                except FlowError as exc:
                    return exc
        return None

    error = anyio.run(run)
    assert isinstance(error, UnexpectedResponseError) and error.status_code == 200
    assert "expected a JSON body" in str(error)
