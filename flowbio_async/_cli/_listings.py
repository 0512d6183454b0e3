"""``search``, ``samples list`` and ``data list``: finding things from the shell (#11).

Tables on a terminal, tab-separated lines in a pipe, one JSON document with ``--json``
(issue #6's output rules). Listings stop after ``--limit`` items (every page is read lazily,
so a small limit costs one request). Reads work anonymously and see more with a token.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from typing import Any

from flowbio_async._cli._command import Invocation, Verbs
from flowbio_async._cli._credentials import Auth
from flowbio_async._cli._data import positive_int

SAMPLE_COLUMNS = [
    ("id", "ID"),
    ("name", "Name"),
    ("sample_type", "Type"),
    ("organism", "Organism"),
    ("project_name", "Project"),
    ("created", "Created"),
]
DATA_COLUMNS = [
    ("id", "ID"),
    ("filename", "Filename"),
    ("size", "Bytes"),
    ("sample_name", "Sample"),
    ("pipeline_name", "Pipeline"),
    ("created", "Created"),
]
SEARCH_COLUMNS = [("kind", "Kind"), ("id", "ID"), ("name", "Name")]


def _limit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--limit", type=positive_int, default=50, metavar="N", help="at most N (default 50)"
    )


def register(verbs: Verbs) -> None:
    """Add ``search``, ``samples list`` and ``data list``."""
    search = verbs.add(
        "search", _search, "search samples, projects, executions and data", auth=Auth.OPTIONAL
    )
    search.add_argument("query", metavar="TEXT")

    samples = verbs.group("samples", "samples and their catalogue").add(
        "list", _samples, "list samples you can see, newest first", auth=Auth.OPTIONAL
    )
    samples.add_argument("--name", help="name contains this")
    samples.add_argument("--sample-type", metavar="TYPE", action="append", help="(repeatable)")
    samples.add_argument("--organism", metavar="ID", help="organism id, e.g. Hs")
    samples.add_argument("--project", metavar="NAME", help="project name contains this")
    samples.add_argument("--owned", action="store_true", help="only your own samples")
    _limit(samples)

    data = verbs.group("data", "generic data files").add(
        "list", _data, "list data files you can see, newest first", auth=Auth.OPTIONAL
    )
    data.add_argument("--filename", help="filename contains this")
    data.add_argument("--pattern", metavar="REGEX", help="filename matches this regex")
    data.add_argument("--sample", metavar="ID", help="only the data of this sample")
    data.add_argument("--owned", action="store_true", help="only your own files")
    _limit(data)


async def _take(items: AsyncIterator[Any], limit: int) -> list[Any]:
    taken: list[Any] = []
    async for item in items:
        taken.append(item)
        if len(taken) >= limit:
            break
    return taken


async def _samples(inv: Invocation) -> int:
    args = inv.args
    pager = inv.client.samples.search(
        name=args.name,
        sample_types=args.sample_type,
        organism=args.organism,
        project=args.project,
        owned=True if args.owned else None,
        page_size=min(args.limit, 100),
    )
    found = await _take(aiter(pager), args.limit)
    rows = [sample.model_dump(mode="json") for sample in found]
    inv.output.table(rows, SAMPLE_COLUMNS)
    return 0


async def _data(inv: Invocation) -> int:
    args = inv.args
    if args.sample is not None:
        pager = inv.client.samples.get_data(args.sample, filter=args.filename)
    else:
        pager = inv.client.data.search(
            filename=args.filename,
            pattern=args.pattern,
            owned=True if args.owned else None,
            page_size=min(args.limit, 100),
        )
    found = await _take(aiter(pager), args.limit)
    inv.output.table([data.model_dump(mode="json") for data in found], DATA_COLUMNS)
    return 0


async def _search(inv: Invocation) -> int:
    results = await inv.client.search(inv.args.query)
    rows: list[dict[str, Any]] = []
    for kind, items in (
        ("sample", results.samples),
        ("project", results.projects),
        ("execution", results.executions),
        ("data", results.data),
    ):
        for item in items:
            name = getattr(item, "name", None) or getattr(item, "filename", None)
            name = name or getattr(item, "identifier", None)
            rows.append({"kind": kind, "id": item.id, "name": name})
    inv.output.table(rows, SEARCH_COLUMNS, document=results)
    return 0
