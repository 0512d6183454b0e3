"""Paging and SQL filter building for list endpoints (docs/protocol.md §4.3 and §8 row 14)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from flowbio_async.testing._security import ApiError, bad_request, read_int, settings_of, store_of
from flowbio_async.testing._store import Row


@dataclass(frozen=True)
class PageRequest:
    """Which slice of a list was asked for."""

    page: int
    count: int
    offset: int


def page_request(request: Request) -> PageRequest:
    """Read ``page``/``count`` or ``limit``/``offset`` (both styles, docs/protocol.md §8 row 14).

    ``count`` (or ``limit``) above the maximum is a 400; non-integers are a 500 like
    production's (docs/protocol.md §4.3).
    """
    settings = settings_of(request)
    query = request.query_params
    offset_style = "limit" in query or "offset" in query
    size_name = "limit" if offset_style and "count" not in query else "count"
    count = read_int(request, size_name, settings.default_page_size)
    if count > settings.max_page_size:
        raise bad_request(f"Cannot request more than {settings.max_page_size} items")
    if count < 1:
        raise bad_request("Count must be at least 1")
    if offset_style:
        offset = max(0, read_int(request, "offset", 0))
        return PageRequest(page=offset // count + 1, count=count, offset=offset)
    page = max(1, read_int(request, "page", 1))
    return PageRequest(page=page, count=count, offset=(page - 1) * count)


@dataclass
class Query:
    """A ``SELECT`` being assembled from trusted fragments and request-supplied params."""

    select: str
    where: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    order: str = ""

    def add(self, clause: str, *params: Any) -> None:
        """Add a ``WHERE`` clause (``?`` placeholders only) and its params."""
        self.where.append(clause)
        self.params.extend(params)

    def sql(self) -> str:
        """The full statement without paging."""
        where = f" WHERE {' AND '.join(self.where)}" if self.where else ""
        order = f" ORDER BY {self.order}" if self.order else ""
        return f"{self.select}{where}{order}"

    def rows(self, request: Request) -> list[Row]:
        """Every matching row."""
        return store_of(request).rows(self.sql(), self.params)


def paged(
    request: Request,
    query: Query,
    key: str,
    render: Callable[[Sequence[Row]], list[dict[str, Any]]],
) -> JSONResponse:
    """Answer ``{"count": total, "page": n, key: [...]}`` for the requested slice."""
    slice_ = page_request(request)
    store = store_of(request)
    total = store.scalar(f"SELECT COUNT(*) FROM ({query.sql()})", query.params)  # noqa: S608
    rows = store.rows(
        f"{query.sql()} LIMIT ? OFFSET ?", [*query.params, slice_.count, slice_.offset]
    )
    return JSONResponse({"count": total, "page": slice_.page, key: render(rows)})


SORTS = {
    "created": "created ASC, id ASC",
    "-created": "created DESC, id DESC",
    "name": "name COLLATE NOCASE ASC, id ASC",
    "-name": "name COLLATE NOCASE DESC, id DESC",
    "filename": "filename COLLATE NOCASE ASC, id ASC",
    "-filename": "filename COLLATE NOCASE DESC, id DESC",
}


def sort_order(request: Request, default: str, allowed: Sequence[str], alias: str) -> str:
    """ORDER BY text for ``?sort=`` on table ``alias`` (unknown values use ``default``)."""
    wanted = request.query_params.get("sort", default)
    columns = SORTS[wanted if wanted in allowed else default].split(", ")
    return ", ".join(f"{alias}.{column}" for column in columns)


def timestamp(value: str) -> int:
    """A ``created_gt``-style bound: integer Unix seconds only. ISO-8601 text is a 500 on Flow
    ("Passing an ISO-8601 string causes HTTP 500", samples.md; #15 item 6)."""
    try:
        return int(value)
    except ValueError:
        raise ApiError(500, {"error": "Server error"}) from None


def add_created_filters(request: Request, query: Query, column: str) -> None:
    """``created_gt``/``created_lt``: inclusive bounds (``__gte``/``__lte``, samples.md).

    The docs site's ``created_after``/``created_before`` are unknown to Flow and ignored.
    """
    for name, op in (("created_gt", ">="), ("created_lt", "<=")):
        raw = request.query_params.get(name)
        if raw:
            query.add(f"{column} {op} ?", timestamp(raw))


def like(value: str) -> str:
    """A case-insensitive substring pattern for ``LIKE ? ESCAPE '\\'``."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def comma_list(value: str | None) -> list[str]:
    """Split a comma list parameter (``sample_types=RNA-Seq,ChIP-Seq``)."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]
