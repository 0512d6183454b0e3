"""The ``client.users`` resource: read-only user search (docs/protocol.md §4.1)."""

from __future__ import annotations

from flowbio_async._models._users import User
from flowbio_async._pagination import AsyncPager
from flowbio_async._resources._base import Resource, build_params


class UserResource(Resource):
    """Find users (``/users/search``); items carry no ids, only names and groups."""

    def search(
        self,
        *,
        name: str | None = None,
        exclude_group: str | None = None,
        page_size: int | None = None,
    ) -> AsyncPager[User]:
        """Users whose name or username contains ``name``.

        Example:
            ```python
            async for user in client.users.search(name="ali"):
                print(user.username, user.name)
            ```
        """
        params = build_params(name=name, exclude_group=exclude_group)
        return self._pager(
            "users/search", "users", User.model_validate, params=params, page_size=page_size
        )
