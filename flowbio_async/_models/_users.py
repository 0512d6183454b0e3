"""Users: ``/me`` and ``/users/search`` (docs/protocol.md §4.1)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from flowbio_async._models._base import FlowModel, OptionalId, Timestamp


class User(FlowModel):
    """The logged-in user (``/me``) or a user found by search; every field is optional
    (docs/protocol.md §8 row 29).

    Flow answers ``/me`` with 401 for anonymous callers; older servers sent a ``User`` whose
    ``id`` is ``None`` (docs/protocol.md §4.1), which this model still reads.

    Example:
        ```python
        me = await client.me()
        print(me.username if me.id else "anonymous")
        ```
    """

    id: OptionalId = None
    username: str | None = None
    name: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    image: str | None = None
    is_admin: bool | None = None
    can_run_pipelines: bool | None = None
    groups: list[Any] = Field(default_factory=list)
    memberships: list[Any] = Field(default_factory=list)


class Group(FlowModel):
    """A group a user belongs to (``/users/search`` items)."""

    slug: str | None = None
    name: str | None = None
    image: str | None = None
    created: Timestamp = None
