"""Fuzzing error-body parsing (docs/protocol.md §6.2): any status, headers and body give a typed
error.

Issue #7: malformed server responses must become typed errors, never an unhandled exception,
and a token in the request URL or the body must never reach the message.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flowbio_async import FlowApiError, ServerError
from flowbio_async._errors import STATUS_CLASSES, error_from_response, redact_url

SECRET = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.c2ln"

keys = st.text(max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)

# The seven shapes of docs/protocol.md §6.2, each filled with arbitrary values where the contract is
# loose.
shaped_bodies = st.one_of(
    st.builds(lambda m: {"error": m}, st.text()),
    st.builds(lambda d: {"error": d}, st.dictionaries(keys, json_values, max_size=4)),
    st.builds(
        lambda c, m, d: {"error": {"code": c, "message": m, "details": d}},
        json_values,
        st.text(),
        json_values,
    ),
    st.builds(lambda m, c: {"error": m, "code": c}, st.text(), json_values),
    st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    json_values,
)

content_types = st.sampled_from(
    ["application/json", "application/problem+json", "text/html", "text/plain", "", "bogus/x"]
)
statuses = st.integers(min_value=400, max_value=599)


def _check(exc: FlowApiError, status: int) -> None:
    assert isinstance(exc, FlowApiError)
    assert exc.status_code == status
    assert isinstance(exc.message, str)
    expected = STATUS_CLASSES.get(status, ServerError if status >= 500 else FlowApiError)
    assert isinstance(exc, expected)
    assert str(exc) and repr(exc)  # both render, whatever the body was


@settings(deadline=None, max_examples=300)
@given(status=statuses, content_type=content_types, body=shaped_bodies)
def test_every_json_shape_gives_the_status_class(status: int, content_type: str, body: Any) -> None:
    content = json.dumps(body).encode()
    exc = error_from_response(status, {"Content-Type": content_type}, content, "GET", "https://x/y")
    _check(exc, status)


@settings(deadline=None, max_examples=300)
@given(status=statuses, content_type=content_types, content=st.binary(max_size=2048))
def test_arbitrary_bytes_give_a_typed_error(status: int, content_type: str, content: bytes) -> None:
    exc = error_from_response(status, {"content-type": content_type}, content)
    _check(exc, status)
    assert len(exc.message) <= 600  # non-JSON bodies are previewed, never pasted whole


@settings(deadline=None)  # no timing under a loaded CI machine
@given(
    status=statuses,
    prefix=st.text(alphabet="abc/?&=.", max_size=20),
    param=st.sampled_from(["token", "TOKEN", "access_token"]),
)
def test_token_in_the_url_or_message_is_redacted(status: int, prefix: str, param: str) -> None:
    url = f"https://files.test/downloads/1/a.txt?{prefix}&{param}={SECRET}"
    body = json.dumps({"error": f"bad link {url}"}).encode()
    exc = error_from_response(status, {"content-type": "application/json"}, body, "GET", url)
    assert SECRET not in str(exc) and SECRET not in repr(exc)
    assert SECRET not in (exc.url or "") and SECRET not in exc.message


@settings(deadline=None)  # no timing under a loaded CI machine
@given(st.text())
def test_redact_url_is_idempotent_and_never_grows_a_token(text: str) -> None:
    once = redact_url(text)
    assert redact_url(once) == once
