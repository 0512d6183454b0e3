"""Relative assets of HTML reports: path checks and where to fetch them (docs/protocol.md §5.1).

A MultiQC report links to files next to it (``multiqc_report_data/multiqc.log``). Flow serves
them under the report's own download path, ``/downloads/<html id>/<relative path>``, so the
relative path chosen by the caller becomes part of a URL and of a local path: both must stay
below their base, hence the strict checks here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import quote

from flowbio_async._errors import UnsafePathError
from flowbio_async._resources._base import segment
from flowbio_async._resources._download_support import Dest, Target
from flowbio_async._transfers._paths import safe_join

if TYPE_CHECKING:
    from flowbio_async._context import ClientContext
    from flowbio_async._models._data import Data

_DRIVE = re.compile(r"^[A-Za-z]:")


def asset_path(relative: str) -> PurePosixPath:
    """Check an asset path: ``/``-separated, relative, no empty, ``.`` or ``..`` segment.

    Raises :class:`UnsafePathError` (a ``ValueError``) before any request is sent. Unlike
    server-provided paths nothing is silently dropped: ``a//b`` is a caller's mistake.

    Example:
        ```python
        asset_path("multiqc_report_data/multiqc.log")  # PurePosixPath(...)
        asset_path("../secret.txt")                     # raises UnsafePathError
        ```
    """
    if not relative or "\x00" in relative or "\\" in relative or _DRIVE.match(relative):
        raise UnsafePathError(f"not a relative asset path: {relative!r}")
    parts = relative.split("/")
    if any(part in {"", ".", ".."} for part in parts):
        raise UnsafePathError(
            f"asset path must be relative, without empty, '.' or '..' segments: {relative!r}"
        )
    return PurePosixPath(*parts)


def _asset_urls(ctx: ClientContext, html: Data | str | int, relative: PurePosixPath) -> list[str]:
    """The report's own download URL with the asset in place of its name, then both bases."""
    suffix = "/".join(quote(part, safe="", errors="replace") for part in relative.parts)
    urls: list[str] = []
    data_id = html if isinstance(html, str | int) else html.id
    if not isinstance(html, str | int) and html.download_url and html.filename:
        # A server-chosen host (docs/protocol.md §5.1 files server) is kept when the URL has the
        # plain `.../<filename>` shape; anything else (a query string) falls back below.
        own = html.download_url
        name = quote(html.filename, errors="replace")
        if own.endswith(f"/{name}") and "?" not in own:
            urls.append(f"{own[: -len(name)]}{suffix}")
    path = f"downloads/{segment(data_id)}/{suffix}"
    urls += [f"{ctx.http.files_url}/{path}", f"{ctx.http.base_url}/{path}"]
    return list(dict.fromkeys(urls))


def asset_target(ctx: ClientContext, html: Data | str | int, relative: str, dest: Dest) -> Target:
    """A :class:`Target` for one asset; a directory ``dest`` keeps the relative layout.

    ``dest`` naming a directory (existing, or written with a trailing ``/``) receives
    ``dest/<relative path>``, the layout the report's links expect next to it; anything
    else is the file to write. Size and md5 are unknown for assets (the server lists none).
    """
    checked = asset_path(relative)
    text = os.fspath(dest)
    root: Path | None = None
    if Path(text).is_dir() or text.endswith(("/", os.sep)):
        path = safe_join(text, checked.as_posix())
        root = Path(text)
    else:
        path = Path(text)
    data_id = str(html if isinstance(html, str | int) else html.id)
    return Target(
        urls=tuple(_asset_urls(ctx, html, checked)),
        dest=path,
        label=checked.as_posix(),
        key=f"{data_id}:{checked.as_posix()}",
        meta={"file_id": data_id, "asset": checked.as_posix()},
        root=root,
    )
