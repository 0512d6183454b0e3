"""The lazy ``Sequence`` behind ``flowbio_sync.Pager`` (hand-written; #17 item 1).

``scripts/generate_sync.py`` derives the twin of every pager (a class that is both awaitable
and async-iterable) from :class:`PagerSequence`, and leaves out the members defined here. The
work stays in the async pager, which fetches pages in order, each once, and keeps them; this
class only turns the ``Sequence`` protocol into calls on the client's loop thread.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, SupportsIndex, TypeVar, overload

if TYPE_CHECKING:
    from flowbio_sync._portal import Portal

T = TypeVar("T")


class Listing(Protocol[T]):
    """What the base needs of the async pager (``flowbio_async.AsyncPager`` has it all)."""

    async def count(self) -> int: ...
    @overload
    async def at(self, index: SupportsIndex) -> T: ...
    @overload
    async def at(self, index: slice) -> list[T]: ...
    async def items_from(self, start: int) -> list[T]: ...


_TOTAL: Any = object()


class PagerSequence(Sequence[T]):
    """A listing as a lazy sequence, like the official client's ``PageIterator``.

    ``len()`` is the server's total after one page; indexing (negative too) and slices fetch
    only the pages they need; iteration fetches the next page when it gets there. Pages are
    fetched once and kept, so a second pass, ``len()`` or an index costs no request.

    Example:
        ```python
        projects = client.samples.get_owned_projects()
        print(len(projects), projects[0].name, projects[-1].name)
        for project in projects[:10]:
            print(project.id)
        ```
    """

    _portal: Portal
    _async: Listing[T]  # the generated twin narrows it to its async pager class

    def __len__(self) -> int:
        return self._portal.call(self._async.count)

    @overload
    def __getitem__(self, index: SupportsIndex) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: SupportsIndex | slice) -> T | list[T]:
        if isinstance(index, slice):  # two calls so each overload of ``at`` is picked
            return self._portal.call(lambda: self._async.at(index))
        return self._portal.call(lambda: self._async.at(index))

    def __iter__(self) -> Iterator[T]:
        # One call per page, when the loop gets there: no read-ahead that a ``break`` would
        # cancel mid-request, and a page is never asked for twice.
        start = 0
        while batch := self._portal.call(self._async.items_from, start):
            yield from batch
            start += len(batch)

    def count(self, value: Any = _TOTAL) -> int:
        """The number of items (what ``len()`` gives); with ``value``, how many equal it.

        Example:
            ```python
            print(client.samples.get_owned_projects().count(), "projects")
            ```
        """
        if value is _TOTAL:
            return len(self)
        return sum(1 for item in self if item is value or item == value)
