"""Task groups whose failure is the failing task's own error (issue #14: only ``FlowError``).

anyio wraps a failed child's exception in an ``ExceptionGroup``; a caller of the public API
must see the ``FlowError`` itself (``except NotFoundError`` has to work), so concurrent
lookups inside one call run in :func:`task_group`.

Example:
    ```python
    async with task_group() as group:
        group.start_soon(load, "types")
        group.start_soon(load, "attributes")
    ```
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
from anyio.abc import TaskGroup


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf of a (nested) exception group: the error that failed the group."""
    first: BaseException = group
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return first


@contextlib.asynccontextmanager
async def task_group() -> AsyncIterator[TaskGroup]:
    """An anyio task group that raises the first task's error unwrapped."""
    try:
        async with anyio.create_task_group() as group:
            yield group
    except BaseExceptionGroup as grouped:
        raise first_error(grouped) from None
