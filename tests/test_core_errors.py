"""Error bodies: every shape of docs/protocol.md §6.2 becomes the right class and message.

Each shape is served through respx so the whole path (HttpClient → error_from_response) runs;
a few header/edge cases call ``error_from_response`` directly.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from flowbio_async import (
    AnnotationValidationError,
    AnnotationWarningsError,
    AuthenticationError,
    BadRequestError,
    ClientConfig,
    FlowApiError,
    GoneError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnprocessableError,
)
from flowbio_async._errors import error_from_response, redact_url
from flowbio_async._http import HttpClient
from flowbio_async.testing import FlowServer

BASE = "https://flow.test/api"
NO_RETRY = ClientConfig(max_retries=0, connection_retries=0, http_engine="httpx")  # respx


async def _error_for(
    status: int, body: Any = None, *, raw: bytes | None = None, **headers: str
) -> FlowApiError:
    content = raw if raw is not None else json.dumps(body).encode()
    http = HttpClient(BASE, NO_RETRY)
    try:
        with respx.mock(assert_all_called=True) as mock:
            mock.get(f"{BASE}/thing").mock(
                return_value=httpx.Response(status, content=content, headers=headers)
            )
            with pytest.raises(FlowApiError) as info:
                await http.request("GET", "/thing")
    finally:
        await http.aclose()
    return info.value


@pytest.mark.anyio
async def test_shape1_legacy_string() -> None:
    exc = await _error_for(404, {"error": "Not found"}, **{"Content-Type": "application/json"})
    assert type(exc) is NotFoundError
    assert exc.message == "Not found"
    assert exc.status_code == 404
    assert exc.method == "GET" and exc.url == f"{BASE}/thing"
    assert str(exc) == f"HTTP 404: Not found (GET {BASE}/thing)"


@pytest.mark.anyio
@pytest.mark.parametrize("wrapped", [True, False], ids=["wrapped", "bare"])
async def test_shape2_field_dict(wrapped: bool) -> None:
    # Wrapped as pipelines.md shows run errors, bare as data.md shows upload errors (#15).
    fields = {"username": ["This field is required."], "params": ["bad", "worse"]}
    exc = await _error_for(400, {"error": fields} if wrapped else fields)
    assert type(exc) is BadRequestError
    assert "username: This field is required." in exc.message
    assert "params: bad, worse" in exc.message
    assert exc.details == [
        {"field": "username", "message": "This field is required."},
        {"field": "params", "message": "bad"},
        {"field": "params", "message": "worse"},
    ]


@pytest.mark.anyio
async def test_shape3_no_error_key_annotation_bodies() -> None:
    validation = {"validation": [{"row": 3, "message": "Unknown organism"}]}
    exc = await _error_for(400, validation)
    assert isinstance(exc, AnnotationValidationError)
    assert exc.errors == [{"row": 3, "message": "Unknown organism"}]
    assert "Unknown organism" in exc.message

    warnings = {"warnings": [{"row": 2, "message": "Unusual value"}]}
    exc = await _error_for(400, warnings)
    assert isinstance(exc, AnnotationWarningsError)
    assert exc.warnings == [{"row": 2, "message": "Unusual value"}]

    # Same keys on another status, or next to an "error" key, are not annotation errors.
    assert type(await _error_for(500, validation)) is ServerError
    mixed = await _error_for(400, {"error": "nope", "warnings": []})
    assert type(mixed) is BadRequestError and mixed.message == "nope"

    other = await _error_for(409, {"detail": "conflict"})
    assert type(other) is FlowApiError
    assert json.loads(other.message) == {"detail": "conflict"}


@pytest.mark.anyio
async def test_shape4_structured_envelope() -> None:
    body = {
        "error": {
            "code": "invalid_field",
            "message": "Bad input",
            "details": [{"field": "name", "code": "blank", "message": "required"}],
        }
    }
    exc = await _error_for(422, body)
    assert type(exc) is UnprocessableError
    assert isinstance(exc, BadRequestError)
    assert (exc.message, exc.code) == ("Bad input", "invalid_field")
    assert exc.details == [{"field": "name", "code": "blank", "message": "required"}]

    empty = await _error_for(400, {"error": {"code": "x", "message": "m", "details": []}})
    assert empty.details is None


@pytest.mark.anyio
async def test_shape5_problem_details_by_content_type() -> None:
    problem = {
        "type": "https://flow.bio/problems/validation",
        "title": "Validation failed",
        "status": 422,
        "detail": "accession is malformed",
        "code": "validation_error",
        "errors": [{"pointer": "/imports/0/accession", "code": "format", "detail": "bad"}],
    }
    exc = await _error_for(422, problem, **{"Content-Type": "application/problem+json"})
    assert type(exc) is UnprocessableError
    assert exc.message == "accession is malformed"
    assert exc.code == "validation_error"
    assert exc.problem == problem
    assert exc.details == problem["errors"]

    titled = await _error_for(
        403,
        {"title": "Forbidden", "code": "x"},
        **{"Content-Type": "application/problem+json; charset=utf-8"},
    )
    assert type(titled) is PermissionDeniedError and titled.message == "Forbidden"

    # The same body without the content type is not treated as Problem Details.
    plain = await _error_for(422, problem, **{"Content-Type": "application/json"})
    assert plain.problem is None


@pytest.mark.anyio
async def test_shape6_docs_site_envelope() -> None:
    body = {"error": "Download link expired", "code": "EXPIRED", "status": 410}
    exc = await _error_for(410, body)
    assert type(exc) is GoneError
    assert (exc.message, exc.code) == ("Download link expired", "EXPIRED")


@pytest.mark.anyio
async def test_shape7_non_json_bodies() -> None:
    html = await _error_for(502, raw=b"<html><body>Bad gateway</body></html>")
    assert type(html) is ServerError
    assert html.message == "HTTP 502 Bad Gateway: <html><body>Bad gateway</body></html>"
    assert html.body is None

    empty = await _error_for(404, raw=b"")
    assert type(empty) is NotFoundError and empty.message == "HTTP 404 Not Found"

    long = await _error_for(500, raw=b"x" * 2000)
    assert long.message == "HTTP 500 Internal Server Error: " + "x" * 500 + "…"
    # #17 item 10: the status is said once, then the request (not "HTTP 502: HTTP 502 ...").
    assert str(html) == (
        f"HTTP 502 Bad Gateway for GET {BASE}/thing: <html><body>Bad gateway</body></html>"
    )
    assert str(empty) == f"HTTP 404 Not Found for GET {BASE}/thing"


@pytest.mark.anyio
async def test_a_bare_404_of_the_local_server_names_the_request_without_its_token(
    flow_server: FlowServer,
) -> None:
    """#17 item 10: a non-JSON 404 (a files-server download that does not exist) read
    "HTTP 404: HTTP 404 Not Found"; now the status, the method and the URL, token redacted."""
    http = HttpClient(flow_server.url, NO_RETRY)
    secret = "s3cret-download-token-value"
    url = f"{flow_server.files_url}/downloads/987654/missing.txt?token={secret}"
    try:
        with pytest.raises(NotFoundError) as info:
            await http.request("GET", url, authenticated=False)
    finally:
        await http.aclose()
    assert info.value.body is None  # bare status: no JSON body
    redacted = f"{flow_server.files_url}/downloads/987654/missing.txt?token=REDACTED"
    assert str(info.value) == f"HTTP 404 Not Found for GET {redacted}"
    assert secret not in str(info.value) and "HTTP 404: HTTP 404" not in str(info.value)


@pytest.mark.anyio
async def test_401_without_token_is_authentication_error() -> None:
    exc = await _error_for(401, {"error": "Not authorized"})
    assert type(exc) is AuthenticationError


def test_rate_limit_error_exposes_retry_after() -> None:
    exc = error_from_response(429, {"retry-after": "7"}, b'{"error": "slow down"}', "GET", BASE)
    assert isinstance(exc, RateLimitError)
    assert exc.retry_after == 7.0
    reset = error_from_response(429, {"X-RateLimit-Reset": "5"}, b"", "GET", BASE)
    assert isinstance(reset, RateLimitError) and reset.retry_after == 5.0


def test_token_query_parameters_are_redacted() -> None:
    url = "https://files.flow.bio/downloads/1/a.txt?direct=1&token=eyJhbGciOi.x.y"
    assert redact_url(url) == "https://files.flow.bio/downloads/1/a.txt?direct=1&token=REDACTED"
    assert redact_url("https://x/a?access_token=abc") == "https://x/a?access_token=REDACTED"
    exc = error_from_response(404, {}, b"", "GET", url)
    assert "eyJhbGciOi" not in str(exc) and "eyJhbGciOi" not in (exc.url or "")
