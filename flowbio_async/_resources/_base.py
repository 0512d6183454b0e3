"""Base class of every resource: the shared client context plus small request helpers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from flowbio_async._errors import ConfigurationError
from flowbio_async._models._parse import M, parse_model, parse_models
from flowbio_async._pagination import AsyncPager

if TYPE_CHECKING:
    from flowbio_async._context import ClientContext
    from flowbio_async._http import Response
    from flowbio_async._models._data import Data

T = TypeVar("T")


def unix_seconds(value: str | int | float | date | datetime) -> int:
    """A ``created_gt``/``created_lt`` value: the API takes Unix ints; ISO strings make it fail
    with HTTP 500 (docs/protocol.md §1.2), so dates and ISO text are converted here. Naive means
    UTC.

    Example:
        ```python
        unix_seconds("2024-01-01")  # 1704067200
        ```
    """
    if isinstance(value, bool):
        raise ConfigurationError("a date is needed, not a bool")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(float(text))
        except ValueError:
            pass
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigurationError(f"not an ISO-8601 date or Unix time: {value!r}") from None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def query_value(value: Any) -> Any:
    """Encode one filter value: booleans as ``true``/``false``, sequences as comma lists."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(str(query_value(v)) for v in value)
    if isinstance(value, datetime | date):
        return unix_seconds(value)
    return value


def build_params(
    *,
    created_after: Any = None,
    created_before: Any = None,
    extra: Mapping[str, Any] | None = None,
    **named: Any,
) -> dict[str, Any]:
    """Query parameters without ``None`` values; dates become ``created_gt``/``created_lt``."""
    params = {k: query_value(v) for k, v in {**named, **(extra or {})}.items() if v is not None}
    if created_after is not None:
        params["created_gt"] = unix_seconds(created_after)
    if created_before is not None:
        params["created_lt"] = unix_seconds(created_before)
    return params


class Resource:
    """A group of API operations sharing the client's HTTP layer, config and limiter."""

    def __init__(self, ctx: ClientContext) -> None:
        self._ctx = ctx

    async def _get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return (await self._ctx.http.request("GET", path, params=params)).json()

    async def _get_model(
        self, model: type[M], path: str, params: Mapping[str, Any] | None = None
    ) -> M:
        """``GET path`` validated into ``model`` (odd bodies: ``UnexpectedResponseError``, #7)."""
        response = await self._ctx.http.request("GET", path, params=params)
        return parse_response(model, response, f"GET {path}")

    async def _get_models(
        self, model: type[M], path: str, params: Mapping[str, Any] | None = None
    ) -> list[M]:
        """``GET path`` whose body is a JSON list of ``model`` objects."""
        response = await self._ctx.http.request("GET", path, params=params)
        return parse_models(
            model, response.json(), endpoint=f"GET {path}", status_code=response.status_code
        )

    def _pager(
        self,
        path: str,
        items_key: str,
        factory: Callable[[Any], T],
        *,
        params: Mapping[str, Any] | None = None,
        page_size: int | None = None,
    ) -> AsyncPager[T]:
        return AsyncPager(
            self._ctx.http, path, items_key, factory, params=params, page_size=page_size
        )

    def _with_download_url(self, data: Data) -> Data:
        """Fill ``download_url`` as ``{files}/downloads/{id}/{filename}``
        (docs/protocol.md §8 row 19)."""
        if data.download_url is None and data.filename:
            base = self._ctx.http.files_url
            # errors="replace": a server name with a lone surrogate must not crash the read (#14).
            name = quote(data.filename, errors="replace")
            data.download_url = f"{base}/downloads/{segment(data.id)}/{name}"
        return data


def parse_response(model: type[M], response: Response, endpoint: str) -> M:
    """A JSON body validated into ``model``; ``endpoint`` is e.g. ``"POST downloads"``."""
    return parse_model(model, response.json(), endpoint=endpoint, status_code=response.status_code)


def segment(value: str | int) -> str:
    """One URL path segment from a user-supplied id (``/`` and ``?`` cannot escape it)."""
    text = str(value)
    if not text:
        raise ConfigurationError("an id must not be empty")
    return quote(text, safe="", errors="replace")
