"""``POST /graphql`` (and ``GET`` for queries): the GraphQL endpoint over the same store (#11).

Served under the API base, where the legacy client points (``flowbio.Client(
"https://<host>/api/graphql")``; it derives the REST base by dropping ``/graphql``). The
request follows the GraphQL-over-HTTP spec: a JSON body ``{"query", "variables",
"operationName"}`` (or query parameters on ``GET``, which may not run mutations: 405).
The answer's media type is ``application/graphql-response+json`` when the client accepts it
and ``application/json`` otherwise; a syntax error, an unknown field or bad variables are a
GraphQL ``errors`` answer, with status 400 under the new media type and 200 under the old
one, never a 500. A body that is not a GraphQL request at all is a 400 either way.

Authentication is the REST routes': ``Authorization: Bearer <jwt>`` or the legacy client's
bare ``<jwt>`` (docs/protocol.md §2.4, §8 row 6); no token is an anonymous caller; a bad or expired
token is a 401 (so clients refresh), answered in GraphQL's ``errors`` shape.
"""

from __future__ import annotations

import json
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    execute,
    parse,
    validate,
)
from graphql.language import DocumentNode
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from flowbio_async.testing._graphql_nodes import Context
from flowbio_async.testing._graphql_root import ROOT
from flowbio_async.testing._graphql_schema import SCHEMA
from flowbio_async.testing._security import (
    REFRESH_COOKIE,
    ApiError,
    current_user,
    settings_of,
    store_of,
)

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


class _RequestError(Exception):
    """Not a well-formed GraphQL-over-HTTP request (400 whatever the media type)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _media_type(request: Request) -> str:
    accept = request.headers.get("accept", "")
    return GRAPHQL_RESPONSE if GRAPHQL_RESPONSE in accept else JSON


def _answer(
    body: dict[str, Any], status: int, media: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=media, headers=headers)


def _errors(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message}]}


async def _params(request: Request) -> tuple[str, dict[str, Any] | None, str | None]:
    """``(query, variables, operationName)`` from the body (POST) or the URL (GET)."""
    if request.method == "GET":
        raw: dict[str, Any] = dict(request.query_params)
        variables = raw.get("variables")
        if isinstance(variables, str) and variables:
            try:
                raw["variables"] = json.loads(variables)
            except ValueError:
                raise _RequestError("variables must be a JSON object") from None
    else:
        kind = request.headers.get("content-type", JSON).split(";")[0].strip().lower()
        if kind not in (JSON, ""):
            raise _RequestError(f"send the request as {JSON}, not {kind}", status=415)
        try:
            raw = json.loads(await request.body() or b"null")
        except ValueError:
            raise _RequestError("the body is not valid JSON") from None
        if not isinstance(raw, dict):
            raise _RequestError('the body must be a JSON object with a "query"')
    query = raw.get("query")
    if not isinstance(query, str) or not query.strip():
        raise _RequestError('a GraphQL request needs a "query" string')
    variables = raw.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise _RequestError('"variables" must be a JSON object')
    name = raw.get("operationName")
    if name is not None and not isinstance(name, str):
        raise _RequestError('"operationName" must be a string')
    return query, variables, name or None


def _operation(document: DocumentNode, name: str | None) -> OperationType | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    for operation in operations:
        if name is None or (operation.name and operation.name.value == name):
            return operation.operation
    return None


async def graphql_endpoint(request: Request) -> Response:
    """One GraphQL request: parse, validate, execute against the store."""
    media = _media_type(request)
    try:
        user = current_user(request)
    except ApiError as exc:
        message = exc.body.get("error") if isinstance(exc.body, dict) else None
        return _answer(_errors(str(message or "Not authorized")), exc.status, media)
    try:
        query, variables, operation_name = await _params(request)
    except _RequestError as exc:
        return _answer(_errors(str(exc)), exc.status, media)
    request_error = 400 if media == GRAPHQL_RESPONSE else 200
    try:
        document = parse(query)
    except GraphQLError as exc:
        return _answer({"errors": [exc.formatted]}, request_error, media)
    problems = validate(SCHEMA, document)
    if problems:
        return _answer({"errors": [e.formatted for e in problems]}, request_error, media)
    if request.method == "GET" and _operation(document, operation_name) == OperationType.MUTATION:
        return _answer(_errors("mutations need POST"), 405, media, headers={"Allow": "GET, POST"})
    ctx = Context(
        request=request,
        store=store_of(request),
        settings=settings_of(request),
        user=user,
    )
    result = execute(
        SCHEMA,
        document,
        root_value=ROOT,
        context_value=ctx,
        variable_values=variables,
        operation_name=operation_name,
    )
    assert isinstance(result, ExecutionResult), "every resolver is synchronous"
    # No data at all (bad variables, unknown operation name) is a request error (GoHTTP).
    status = request_error if result.data is None and result.errors else 200
    response = _answer(dict(result.formatted), status, media)
    for _user_id, token in ctx.refresh_tokens:
        settings = ctx.settings
        response.set_cookie(
            REFRESH_COOKIE,
            token,
            max_age=int(settings.refresh_token_ttl),
            path="/",
            httponly=True,
            samesite="lax",
        )
    return response


routes: list[BaseRoute] = [
    Route("/graphql", graphql_endpoint, methods=["GET", "POST"], name="graphql"),
]
