"""Errors of ``client.graphql`` (#11): the server's GraphQL ``errors``, and paging that
cannot go on.

A GraphQL server reports problems in the answer's ``errors`` list, often beside partial
``data``, with HTTP 200 (``application/json``) or 400 (``application/graphql-response+json``
for a document it could not parse or validate). :class:`GraphQLError` keeps both and names
each problem's path (the field) and location in its message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flowbio_async._errors import FlowError

_SHOWN = 5


def describe(error: Mapping[str, Any]) -> str:
    """One error as a line: ``path.to.field: message (line 2, column 3)``.

    Example:
        ```python
        describe({"message": "Not found", "path": ["sample"]})  # 'sample: Not found'
        ```
    """
    message = str(error.get("message") or "unknown error")
    path = error.get("path")
    where = ".".join(str(part) for part in path) if isinstance(path, list) and path else ""
    locations = error.get("locations")
    at = ""
    if isinstance(locations, list) and locations and isinstance(locations[0], Mapping):
        first = locations[0]
        at = f" (line {first.get('line')}, column {first.get('column')})"
    return f"{where}: {message}{at}" if where else f"{message}{at}"


class GraphQLError(FlowError):
    """The GraphQL server answered with ``errors``.

    Attributes:
        errors: The server's ``errors`` list, verbatim (each has ``message``, maybe ``path``,
            ``locations`` and ``extensions``).
        data: The partial ``data`` answered beside them, or ``None``.
        status_code: The HTTP status of the answer (200, or 400 for a request error).

    Example:
        ```python
        try:
            await client.graphql.execute("{ sample(id: 404) { name } }")
        except GraphQLError as exc:
            print(exc.messages, exc.data)
        ```
    """

    def __init__(
        self,
        errors: Sequence[Mapping[str, Any]],
        data: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
    ) -> None:
        self.errors: list[dict[str, Any]] = [dict(error) for error in errors]
        self.data: dict[str, Any] | None = None if data is None else dict(data)
        self.status_code = status_code
        lines = [describe(error) for error in self.errors[:_SHOWN]] or ["unknown error"]
        more = len(self.errors) - _SHOWN
        if more > 0:
            lines.append(f"... and {more} more")
        super().__init__("\n".join(lines) if len(lines) > 1 else lines[0])

    @property
    def messages(self) -> list[str]:
        """The ``message`` of every error."""
        return [str(error.get("message", "")) for error in self.errors]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(errors={len(self.errors)}, status_code={self.status_code})"


class GraphQLPaginationError(GraphQLError):
    """A connection cannot be followed: missing from the answer, or a cursor that would loop."""

    def __init__(self, message: str, data: Mapping[str, Any] | None = None) -> None:
        super().__init__([{"message": message}], data)
