"""AsyncPager: lazy page/count pagination (contract §4.3, §8 row 14)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import ValidationError

from flowbio_async._errors import ConfigurationError, UnexpectedResponseError, redact_url
from flowbio_async._models._parse import validation_summary

if TYPE_CHECKING:
    from flowbio_async._http import HttpClient

T = TypeVar("T")

MAX_PAGE_SIZE = 100
"""The server refuses ``count`` above 100 with a 400 (contract §4.3)."""


class AsyncPager(Generic[T]):
    """A paginated listing: ``await`` it for the first page, ``async for`` for every item.

    Pages are asked for as ``page=1,2,…`` with ``count=page_size`` (only when a size was
    chosen; the server default applies otherwise). Iteration stops once ``count`` items were
    seen **or** a page comes back empty, so a wrong total can never loop forever.

    Example:
        ```python
        pager = client.samples.get_owned_projects()
        first_page = await pager              # list of the first page's items
        total = await pager.count()           # total without fetching every page
        async for project in pager:           # every item, page by page
            print(project.id, project.name)
        ```
    """

    def __init__(
        self,
        http: HttpClient,
        path: str,
        items_key: str,
        factory: Callable[[Any], T],
        *,
        params: Mapping[str, Any] | None = None,
        page_size: int | None = None,
    ) -> None:
        if page_size is not None and not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ConfigurationError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        self._http = http
        self._path = path
        self._items_key = items_key
        self._factory = factory
        self._params = dict(params or {})
        self._page_size = page_size
        self._first: tuple[int | None, list[T]] | None = None

    def __repr__(self) -> str:
        return f"AsyncPager({self._path!r}, page_size={self._page_size})"

    def __await__(self) -> Generator[Any, None, list[T]]:
        return self.page(1).__await__()

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def page(self, number: int) -> list[T]:
        """The items of page ``number`` (1-based)."""
        return (await self._fetch(number))[1]

    async def count(self) -> int:
        """The total number of items, from the first page's ``count`` (one request)."""
        total, items = await self._fetch(1)
        return len(items) if total is None else total

    async def all(self) -> list[T]:
        """Every item of every page, as one list."""
        return [item async for item in self]

    async def _iterate(self) -> AsyncIterator[T]:
        number, seen = 1, 0
        while True:
            total, items = await self._fetch(number)
            if not items:
                return  # an empty page ends the listing even if ``count`` said more (§8 row 14)
            for item in items:
                yield item
            seen += len(items)
            if total is None or seen >= total:
                return
            number += 1

    async def _fetch(self, number: int) -> tuple[int | None, list[T]]:
        if number < 1:
            raise ConfigurationError("page numbers start at 1")
        if number == 1 and self._first is not None:
            return self._first
        params = {**self._params, "page": number}
        if self._page_size is not None:
            params["count"] = self._page_size
        response = await self._http.request("GET", self._path, params=params)
        body = response.json()
        total: int | None
        if isinstance(body, list):  # an unpaginated list: everything is on "page 1"
            raw, total = (body if number == 1 else []), len(body)
        elif isinstance(body, dict):
            raw = body.get(self._items_key) or []
            count = body.get("count")
            total = count if isinstance(count, int) and not isinstance(count, bool) else None
        else:
            raw, total = None, None
        try:
            if not isinstance(raw, list):
                raise TypeError(f"expected a list of {self._items_key!r}")
            items = [self._factory(item) for item in raw]
        except (TypeError, ValueError) as exc:  # ValueError includes pydantic's ValidationError
            # Issue #7: an odd page is a typed error, never an AttributeError mid-iteration;
            # a ValidationError is summarised without the body's values.
            detail = validation_summary(exc) if isinstance(exc, ValidationError) else str(exc)
            raise UnexpectedResponseError(
                f"page {number} of {self._path}: {detail}",
                status_code=response.status_code,
                url=redact_url(response.url),
            ) from None
        result = (total, items)
        if number == 1:
            self._first = result
        return result
