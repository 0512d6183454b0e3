"""AsyncPager: a listing fetched page by page, on demand (docs/protocol.md §4.3, §8 row 14; #17).

Every listing of the SDK returns one, and follows one rule, the official client's lazy
``PageIterator`` ported by adding ``await`` (#17 item 1):

* ``await listing`` gives every item as a list (what the official call gives);
* ``async for item in listing`` streams every item, page by page;
* ``await listing.count()`` is the total after one page, ``await listing.first_page()`` the
  first page, ``await listing.at(i)`` / ``at(slice(a, b))`` fetch only the pages they need.

Pages are fetched in order, each at most once per pager, and kept, so a second pass, a count
or an index costs no request (``flowbio_sync.Pager`` is a lazy ``Sequence`` over the same
cache). Fetching is bounded: it stops at the server's total, at the first empty page, at a page
its source marks as the last, and at ``limit``, so a wrong total can never loop forever.
"""

from __future__ import annotations

import operator
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, SupportsIndex, TypeVar, overload

import anyio
from pydantic import ValidationError

from flowbio_async._errors import ConfigurationError, UnexpectedResponseError, redact_url
from flowbio_async._models._parse import validation_summary

if TYPE_CHECKING:
    from flowbio_async._http import HttpClient

T = TypeVar("T")

MAX_PAGE_SIZE = 100
"""The server refuses ``count`` above 100 with a 400 (docs/protocol.md §4.3)."""


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page as a page source fetched it."""

    items: list[T]
    total: int | None = None
    """The listing's total when the server says (Flow's ``count``)."""
    last: bool = False
    """The source knows that no page follows (a short page, an unpaginated list)."""


PageSource = Callable[[int], Awaitable[Page[T]]]
"""Fetch page ``n`` (1-based) of a listing: how a pager talks to one endpoint's paging style."""


class AsyncPager(Generic[T]):
    """A listing: ``await`` it for every item, ``async for`` to stream them page by page.

    Pages are asked for as ``page=1,2,…`` with ``count=page_size`` (only when a size was
    chosen; the server default applies otherwise), fetched on demand, each once, and kept.
    Listing stops at the server's ``count``, at an empty page or at ``limit``, so a wrong
    total can never loop forever.

    Example:
        ```python
        projects = await client.samples.get_owned_projects()   # every project
        pager = client.samples.get_owned_projects()
        total = await pager.count()           # the server's total, after one page
        first = await pager.first_page()      # one request
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
        limit: int | None = None,
    ) -> None:
        if page_size is not None and not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ConfigurationError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        source = _FlowPages(http, path, items_key, factory, dict(params or {}), page_size)
        self._start(source, path, limit)
        self._page_size = page_size

    @classmethod
    def _of(cls, source: PageSource[T], *, label: str, limit: int | None = None) -> AsyncPager[T]:
        """A pager over another paging style (``source`` fetches page ``n``)."""
        pager = cls.__new__(cls)
        pager._start(source, label, limit)
        pager._page_size = None
        return pager

    def _start(self, source: PageSource[T], label: str, limit: int | None) -> None:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise ConfigurationError(f"limit must be a whole number, not {limit!r}")
        if limit is not None and limit < 0:
            raise ConfigurationError(f"limit must be 0 or more, not {limit}")
        self._source = source
        self._label = label
        self._limit = limit
        self._items: list[T] = []
        self._bounds = [0]  # page n is self._items[self._bounds[n - 1] : self._bounds[n]]
        self._total: int | None = None
        self._done = limit == 0
        self._lock: anyio.Lock | None = None  # made on first use: pagers are built off-loop

    def __repr__(self) -> str:
        return (
            f"AsyncPager({self._label!r}, page_size={self._page_size}, fetched={len(self._items)})"
        )

    def __await__(self) -> Generator[Any, None, list[T]]:
        return self.all().__await__()

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def all(self) -> list[T]:
        """Every item of every page, as one list (what ``await pager`` gives)."""
        await self._fill(None)
        return list(self._items)

    async def first_page(self) -> list[T]:
        """The items of the first page (one request, or none if it was fetched already)."""
        return await self.page(1)

    async def page(self, number: int) -> list[T]:
        """The items of page ``number`` (1-based); a page past the end is empty."""
        if number < 1:
            raise ConfigurationError("page numbers start at 1")
        await self._fill_pages(number)
        if number < len(self._bounds):
            return self._items[self._bounds[number - 1] : self._bounds[number]]
        if self._done:
            return []
        # Far ahead of the pages fetched so far: fetched alone and not kept, so the cache
        # stays one run of pages in order.
        return list((await self._source(number)).items)

    async def count(self) -> int:
        """The number of items: the server's total, read from the first page (one request).

        Once every page was fetched it is the number actually listed; a listing whose
        server gives no total is fetched whole to count it. ``limit`` caps it.
        """
        await self._fill(1)
        if self._done:
            return len(self._items)
        if self._total is None:
            await self._fill(None)
            return len(self._items)
        return self._total if self._limit is None else min(self._total, self._limit)

    @overload
    async def at(self, index: SupportsIndex) -> T: ...
    @overload
    async def at(self, index: slice) -> list[T]: ...
    async def at(self, index: SupportsIndex | slice) -> T | list[T]:
        """The item at ``index`` (negative counts from the end), or a ``slice`` as a list.

        Only the pages up to the item are fetched; a negative index or an open-ended slice
        fetches every page. An index past the end raises ``IndexError``.

        Example:
            ```python
            newest = await client.samples.search(sort="-created").at(0)
            last_three = await pager.at(slice(-3, None))
            ```
        """
        if isinstance(index, slice):
            start, stop, step = index.start, index.stop, index.step
            bounded = stop is not None and stop >= 0 and (start is None or start >= 0)
            await self._fill(stop if bounded and (step is None or step > 0) else None)
            return self._items[index]
        position = operator.index(index)
        await self._fill(None if position < 0 else position + 1)
        try:
            return self._items[position]
        except IndexError:
            raise IndexError(
                f"{self._label}: index {position} is out of range ({len(self._items)} items)"
            ) from None

    async def items_from(self, start: int) -> list[T]:
        """The kept items from position ``start`` on, fetching the next page first when none
        are kept there; empty at the end. (What a loop over the sync facade's pager calls once
        per page, so it fetches exactly when it gets there, never ahead.)

        Example:
            ```python
            start = 0
            while batch := await pager.items_from(start):
                start += len(batch)
            ```
        """
        if start < 0:
            raise ConfigurationError("start must be 0 or more")
        await self._fill(start + 1)
        return self._items[start:]

    async def _iterate(self) -> AsyncIterator[T]:
        index = 0
        while True:
            if index < len(self._items):
                yield self._items[index]
                index += 1
            elif self._done:
                return
            else:
                await self._fill(index + 1)

    async def _fill(self, wanted: int | None) -> None:
        """Fetch pages in order until ``wanted`` items are kept (``None``: every page)."""
        if self._done or (wanted is not None and len(self._items) >= wanted):
            return
        await self._fetch_while(lambda: wanted is None or len(self._items) < wanted)

    async def _fill_pages(self, number: int) -> None:
        """Fetch pages in order until page ``number`` is kept, if it is the next one."""
        if number == len(self._bounds):
            await self._fetch_while(lambda: len(self._bounds) <= number)

    async def _fetch_while(self, more: Callable[[], bool]) -> None:
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:  # two consumers of one pager never fetch a page twice
            while not self._done and more():
                await self._fetch_next()

    async def _fetch_next(self) -> None:
        number = len(self._bounds)
        page = await self._source(number)
        items = page.items
        if self._limit is not None:
            items = items[: self._limit - len(self._items)]
        self._items.extend(items)
        self._bounds.append(len(self._items))
        if page.total is not None:
            self._total = page.total
        self._done = (
            not page.items  # an empty page ends the listing even if the total said more
            or page.last
            or (self._total is not None and len(self._items) >= self._total)
            or (self._limit is not None and len(self._items) >= self._limit)
        )


@dataclass(frozen=True)
class _FlowPages(Generic[T]):
    """Flow's paging style: ``?page=N&count=M`` answered ``{"count": total, key: [...]}``."""

    _http: HttpClient
    _path: str
    _items_key: str
    _factory: Callable[[Any], T]
    _params: dict[str, Any]
    _page_size: int | None

    async def __call__(self, number: int) -> Page[T]:
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
        # Without a usable total nothing says another page exists: stop after this one.
        return Page(items, total, last=total is None or isinstance(body, list))
