"""Fuzzing detail reads: a 200 with an odd JSON body must give a typed error (issue #7).

Resources validate bodies through ``_models/_parse.py``: a body without ``id`` or of the wrong
JSON type becomes ``UnexpectedResponseError`` (never pydantic's ``ValidationError``, which is
not a ``FlowError``), and the message names the endpoint and model but not the body's values.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import respx
from hypothesis import given, settings
from hypothesis import strategies as st

from flowbio_async import AsyncClient, ClientConfig, FlowError, UnexpectedResponseError

BASE = "https://flow.test/api"
CONFIG = ClientConfig(show_progress=False, max_retries=0, http_engine="httpx")  # respx

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


@settings(max_examples=30, deadline=None)
@given(body=odd_bodies)
def test_odd_detail_bodies_give_typed_errors(body: Any) -> None:
    error = anyio.run(_get_data, body)
    assert isinstance(error, UnexpectedResponseError) and error.status_code == 200
    if body is not None:  # httpx sends json=None as an empty body (the non-JSON case)
        assert "GET data/7" in str(error) and "Data" in str(error)


def test_validation_message_leaves_body_values_out() -> None:
    secret = "eyJhbGciOiJIUzI1NiJ9.secret-looking-value"
    error = anyio.run(_get_data, {"id": [secret], "filename": {"token": secret}})
    assert isinstance(error, UnexpectedResponseError)
    assert "Data" in str(error) and secret not in str(error) and secret not in repr(error)


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
