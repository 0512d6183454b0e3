"""``client.graphql``: send GraphQL documents to Flow's GraphQL endpoint (#11).

The client does not read the document: it sends ``{"query", "variables",
"operationName"}`` to ``POST <base>/graphql`` (GraphQL over HTTP) and reads the answer's
``data`` and ``errors``. Connections are followed by cursor, the way seed 003 shows:
``samples(first: 20, after: $cursor) { edges { node } pageInfo { hasNextPage endCursor } }``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from flowbio_async._errors import ConfigurationError, UnexpectedResponseError, error_from_response
from flowbio_async._graphql_errors import GraphQLError, GraphQLPaginationError, describe
from flowbio_async._resources._base import Resource

if TYPE_CHECKING:
    from flowbio_async._http import Response

ENDPOINT = "graphql"
#: The GraphQL-over-HTTP media type first; servers that only know JSON answer JSON.
ACCEPT = "application/graphql-response+json, application/json;q=0.9"
#: Statuses whose GraphQL ``errors`` are about the document itself (GraphQL over HTTP).
_REQUEST_ERRORS = frozenset({400, 422})


class GraphQLResource(Resource):
    """GraphQL queries and mutations, and cursor paging over connections."""

    async def execute(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
        *,
        retry: bool = False,
    ) -> dict[str, Any]:
        """Run one GraphQL document and return its ``data``.

        Any ``errors`` in the answer raise :class:`GraphQLError` with the errors and the
        partial ``data``. The document is sent as given (the client never parses it), so it
        is not retried after it may have reached the server: it could be a mutation. Pass
        ``retry=True`` for a query to have a 429, 5xx or dropped connection retried.

        Example:
            ```python
            data = await client.graphql.execute(
                "query sample($id: ID!) { sample(id: $id) { name sampleType } }",
                {"id": "42"},
            )
            print(data["sample"]["name"])
            ```
        """
        if not isinstance(query, str) or not query.strip():
            raise ConfigurationError("a GraphQL document (a non-empty string) is needed")
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = dict(variables)
        if operation_name is not None:
            payload["operationName"] = operation_name
        response = await self._ctx.http.request(
            "POST",
            ENDPOINT,
            json=payload,
            headers={"Accept": ACCEPT},
            retry=retry,
            raise_for_status=False,
        )
        return _data(response)

    async def paginate(
        self,
        query: str,
        connection: str,
        variables: Mapping[str, Any] | None = None,
        *,
        page_size: int | None = None,
        cursor_variable: str = "after",
        max_pages: int | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every node of a connection, page after page, following ``pageInfo.endCursor``
        while ``hasNextPage``.

        ``query`` declares ``$after: String`` (``cursor_variable``) and uses it on the
        connection; ``connection`` is where the connection sits in ``data``, dotted for a
        nested one (``"project.samples"``). It selects ``edges { node { ... } }`` (or
        ``nodes``) and ``pageInfo { hasNextPage endCursor }``. ``page_size`` is sent as
        ``$first``. Paging is bounded: a cursor the server already gave, a next page without
        a cursor, an empty page that claims more, or more than ``max_pages`` pages raise
        :class:`GraphQLPaginationError` instead of looping. Each page is a read, so it is
        retried after a 429, 5xx or dropped connection.

        Example:
            ```python
            query = '''query page($after: String) {
              samples(first: 50, after: $after) {
                edges { node { id name } }
                pageInfo { hasNextPage endCursor }
              }
            }'''
            async for sample in client.graphql.paginate(query, "samples"):
                print(sample["id"], sample["name"])
            ```
        """
        if not connection or any(not part for part in connection.split(".")):
            raise ConfigurationError(f"not a connection path: {connection!r}")
        if max_pages is not None and max_pages < 1:
            raise ConfigurationError("max_pages must be at least 1")
        values = dict(variables or {})
        if page_size is not None:
            if page_size < 1:
                raise ConfigurationError("page_size must be at least 1")
            values["first"] = page_size
        values.setdefault(cursor_variable, None)
        seen: set[str] = set()
        pages = 0
        while True:
            data = await self.execute(query, values, retry=True)
            pages += 1
            nodes, has_next, cursor = _page(data, connection)
            for node in nodes:
                yield node
            if not has_next:
                return
            if not cursor:
                raise GraphQLPaginationError(
                    f"{connection}: hasNextPage is true but there is no endCursor", data
                )
            if cursor in seen or cursor == values.get(cursor_variable):
                raise GraphQLPaginationError(
                    f"{connection}: the server gave cursor {cursor!r} again; stopped so "
                    "paging cannot loop",
                    data,
                )
            if not nodes:
                raise GraphQLPaginationError(
                    f"{connection}: an empty page claims there are more (hasNextPage)", data
                )
            if max_pages is not None and pages >= max_pages:
                raise GraphQLPaginationError(
                    f"{connection}: more than max_pages={max_pages} pages", data
                )
            seen.add(cursor)
            values[cursor_variable] = cursor


def _data(response: Response) -> dict[str, Any]:
    """The ``data`` of an answer; its ``errors`` (or an HTTP error) raise."""
    status = response.status_code
    try:
        body: Any = response.json() if response.content.strip() else None
    except UnexpectedResponseError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    if status >= 400 and not (status in _REQUEST_ERRORS and errors):
        # Authentication, permissions, rate limits, server failures: the usual typed errors,
        # with the GraphQL message when the body carries one.
        exc = error_from_response(status, response.headers, response.content, "POST", response.url)
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            exc.message = describe(errors[0])
            exc.args = (exc.message,)
        raise exc
    if not isinstance(body, dict):
        raise UnexpectedResponseError(
            "the GraphQL endpoint did not answer a JSON object",
            status_code=status,
            url=response.url,
        )
    data = body.get("data")
    if errors:
        if not isinstance(errors, list) or not all(isinstance(e, Mapping) for e in errors):
            errors = [{"message": str(errors)}]
        raise GraphQLError(errors, data if isinstance(data, dict) else None, status_code=status)
    if not isinstance(data, dict):
        raise UnexpectedResponseError(
            "the GraphQL answer has neither data nor errors", status_code=status, url=response.url
        )
    return data


def _page(data: Mapping[str, Any], path: str) -> tuple[list[dict[str, Any]], bool, str | None]:
    """``(nodes, hasNextPage, endCursor)`` of the connection at ``path`` in ``data``."""
    found: Any = data
    walked: list[str] = []
    for part in path.split("."):
        walked.append(part)
        if not isinstance(found, Mapping) or part not in found:
            raise GraphQLPaginationError(f"{'.'.join(walked)}: not in the answer", data)
        found = found[part]
    if not isinstance(found, Mapping):
        raise GraphQLPaginationError(f"{path}: is not a connection (got {found!r})", data)
    info = found.get("pageInfo")
    if not isinstance(info, Mapping) or "hasNextPage" not in info:
        raise GraphQLPaginationError(
            f"{path}: select pageInfo {{ hasNextPage endCursor }} to page through it", data
        )
    if isinstance(found.get("nodes"), list):
        nodes = list(found["nodes"])
    elif isinstance(found.get("edges"), list):
        nodes = [edge.get("node") for edge in found["edges"] if isinstance(edge, Mapping)]
    else:
        raise GraphQLPaginationError(f"{path}: select edges {{ node {{ ... }} }} or nodes", data)
    cursor = info.get("endCursor")
    return nodes, bool(info["hasNextPage"]), cursor if isinstance(cursor, str) else None
