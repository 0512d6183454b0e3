"""Base class of every resource: holds the shared client context."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowbio_async._context import ClientContext


class Resource:
    """A group of API operations sharing the client's HTTP layer, config and limiter."""

    def __init__(self, ctx: ClientContext) -> None:
        self._ctx = ctx
