"""Whatever a hostile server answers, the public API returns or raises a ``FlowError`` (#14).

A real loopback server (``hostile_helpers``) answers each request with what Hypothesis
draws: odd statuses, lying ``Content-Length``, ``Content-Encoding`` and ``Content-Range``
headers, bodies of random bytes or of JSON with hostile values (names with ``..``, NUL and
300 characters, negative, huge, fractional or textual sizes), archives with nasty entries.
Each call must either succeed or raise a ``FlowError`` subclass; downloads must leave
nothing under the final name on failure and nothing at all outside the destination.

Out of scope here (issue #16, the HTTP-layer rewrite): bodies nested thousands deep, bodies
that never end or trickle, and URLs with impossible ports.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tempfile
import warnings
import zipfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from hostile_helpers import Answer, Hostile, hostile_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowbio_async import AsyncClient, ClientConfig, FlowError, TokenCredentials

CONFIG = ClientConfig(
    show_progress=False,
    request_timeout=timedelta(seconds=2),
    connect_timeout=timedelta(seconds=2),
    max_retries=0,
    connection_retries=0,
    download_retries=1,
    backoff_initial=0.001,
    backoff_max=0.002,
    max_retry_after=0.01,
    bulk_poll_interval=0.01,
    bulk_poll_max=0.01,
)
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

names = st.sampled_from(
    ["ok.bin", "../escape.bin", "a/b.bin", "..", "", "C:evil", "x" * 300, "nul\x00.bin",
     "reads.fq.part", "x.flowbio-part", "\ud800.bin", " spaced name.txt", "é" * 130]
)  # fmt: skip
sizes = st.one_of(
    st.none(),
    st.integers(-5, 5000),
    st.just(10**20),
    st.floats(allow_nan=True),
    st.text(max_size=5),
)
md5s = st.one_of(st.none(), st.text(max_size=40), st.just("0" * 32))
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
json_values = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)  # shallow: deep nesting is issue #16's


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as zipped:
        warnings.simplefilter("ignore")  # duplicate names are part of the point
        for name, content in entries:
            zipped.writestr(zipfile.ZipInfo(name), content)
    return buffer.getvalue()


bodies = st.one_of(
    st.binary(max_size=3000),
    st.builds(lambda n: b"x" * n, st.integers(0, 5000)),
    st.builds(lambda v: gzip.compress(bytes(v)), st.integers(0, 100_000)),
    st.builds(
        _zip,
        st.lists(st.tuples(names, st.binary(max_size=50)), max_size=4).filter(
            lambda es: all("\x00" not in n and "\ud800" not in n for n, _ in es)
        ),
    ),
)


@st.composite
def answers(
    draw: st.DrawFn, body: st.SearchStrategy[bytes] = bodies, *, encodings: bool = True
) -> Answer:
    """One hostile answer: a status, lying headers and a body.

    ``encodings=False`` leaves out a ``Content-Encoding`` that does not match the body; the
    two tests at the end pin those answers (once escapes, fixed by the HTTP-layer rewrite, #16).
    """
    status = draw(
        st.sampled_from([200, 200, 200, 206, 400, 401, 403, 404, 410, 416, 429, 500, 502])
    )
    content = draw(body)
    headers: dict[str, str] = {}
    kind = draw(st.sampled_from(["application/json", "text/html", "application/octet-stream", ""]))
    if kind:
        headers["Content-Type"] = kind
    whole = not encodings or status >= 400  # read whole by the HTTP layer: see above
    encoding = draw(st.sampled_from([""] if whole else ["", "", "gzip", "br", "identity"]))
    if encoding:
        headers["Content-Encoding"] = encoding
    if draw(st.booleans()):
        headers["Content-Range"] = draw(
            st.sampled_from(["bytes 0-9/10", "bytes 5-4/3", "bytes */100", "junk", "bytes 0-0/*"])
        )
    if draw(st.booleans()):
        headers["Retry-After"] = draw(st.sampled_from(["0", "-1", "soon", "1e9"]))
    lies = [len(content) // 2, len(content) + 7] if status < 400 else []
    length: int | str | None = draw(st.sampled_from(["auto", "auto", None, *lies]))
    return Answer(status, content, headers, length)


def _json_answer(document: Any) -> st.SearchStrategy[Answer]:
    return answers(st.just(json.dumps(document).encode()), encodings=False)


@st.composite
def data_records(draw: st.DrawFn, base: str) -> dict[str, Any]:
    return {
        "id": draw(st.sampled_from([7, "7", "7/../8"])),
        "filename": draw(names),
        "size": draw(sizes),
        "md5": draw(md5s),
        "download_url": draw(
            st.sampled_from([None, "", f"{base}/storage/f", f"{base}/storage/f?token=abc"])
        ),
        "extra": draw(json_values),
    }


def _run(
    hostile: Hostile, routes: dict[str, Answer], call: Callable[[AsyncClient, Path], Awaitable[Any]]
) -> None:
    """Serve ``routes`` (path prefix -> answer), run ``call``, check the property."""
    hostile.routes = {prefix: (lambda seen, a=answer: a) for prefix, answer in routes.items()}
    hostile.seen.clear()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dest = root / "dest"
        dest.mkdir()

        async def main() -> None:
            async with AsyncClient(hostile.api, CONFIG) as client:
                await client.log_in(TokenCredentials("hostile-fuzz-token"), verify=False)
                try:
                    result = await call(client, dest)
                except FlowError:
                    return
                failed = getattr(result, "failed", None)
                for item in failed or []:
                    assert isinstance(item.error, FlowError), repr(item.error)

        anyio.run(main)
        for path in root.rglob("*"):  # nothing written outside the destination
            assert path == dest or path.is_relative_to(dest), path


@pytest.fixture(scope="module")
def hostile() -> Any:
    with hostile_server() as server:
        yield server


@pytest.mark.parametrize("many", [False, True], ids=["download", "download_many"])
@SETTINGS
@given(data=st.data())
def test_data_downloads(hostile: Hostile, data: st.DataObject, many: bool) -> None:
    record = data.draw(data_records(hostile.base))
    meta = data.draw(st.one_of(_json_answer(record), answers(encodings=False)))
    body = data.draw(answers())

    async def call(client: AsyncClient, dest: Path) -> Any:
        if many:
            return await client.data.download_many(["7", "8"], dest)
        return await client.data.download("7", dest)

    _run(
        hostile,
        {"/api/data/": meta, "/storage/": body, "/files/": body, "/api/downloads/": body},
        call,
    )


@SETTINGS
@given(data=st.data())
def test_workspace_files(hostile: Hostile, data: st.DataObject) -> None:
    item = {
        "key": data.draw(st.sampled_from(["raw/a.bin", "a.bin"])),
        "name": "a.bin",
        "size": data.draw(sizes),
    }
    listing = data.draw(
        st.one_of(_json_answer([item]), _json_answer({"files": [item]}), answers(encodings=False))
    )
    link = data.draw(
        st.one_of(
            _json_answer({"url": f"{hostile.base}/storage/obj"}),
            _json_answer({"url": 5}),
            answers(),
        )
    )
    body = data.draw(answers())

    async def call(client: AsyncClient, dest: Path) -> Any:
        await client.files.list("ws")
        return await client.files.download("raw/a.bin", workspace_id="ws", dest=f"{dest}/")

    _run(
        hostile, {"/api/v1/files/download": link, "/api/v1/files": listing, "/storage/": body}, call
    )


@SETTINGS
@given(data=st.data())
def test_bulk_download_with_extract(hostile: Hostile, data: st.DataObject) -> None:
    job = {
        "id": data.draw(st.sampled_from(["j1", 5, "../j"])),
        "status": data.draw(st.sampled_from(["completed", "failed", "expired", "COMPLETED"])),
        "name": data.draw(names),
        "download_url": f"{hostile.base}/storage/bundle",
        "size": data.draw(sizes),
        "error": data.draw(json_values),
    }
    status = data.draw(st.one_of(_json_answer(job), answers(encodings=False)))
    archive = data.draw(answers())

    async def call(client: AsyncClient, dest: Path) -> Any:
        return await client.downloads.download(["1"], dest, extract=True, timeout=5)

    _run(hostile, {"/api/downloads": status, "/storage/": archive}, call)


@SETTINGS
@given(
    answer=answers(
        st.one_of(bodies, json_values.map(lambda v: json.dumps(v).encode())), encodings=False
    )
)
def test_reads_and_listings(hostile: Hostile, answer: Answer) -> None:
    async def call(client: AsyncClient, dest: Path) -> Any:
        await client.me()
        await client.data.get("7")
        return [sample async for sample in client.samples.search()]

    _run(hostile, {"/api/": answer}, call)


def test_two_items_resolving_to_one_file_each_get_their_own_progress_task(
    hostile: Hostile,
) -> None:
    """Found by this fuzzing: the second transfer's progress task replaced the first's and
    finishing it raised ``KeyError`` (an untyped per-item error in the report)."""
    record = {"id": 7, "filename": "ok.bin", "size": 2, "md5": None, "download_url": None}
    results: list[Any] = []

    async def call(client: AsyncClient, dest: Path) -> Any:
        report = await client.data.download_many(["7", "8"], dest)
        results.extend(report)
        return report

    _run(hostile, {"/api/data/": Answer.json(record), "/": Answer(body=b"ok")}, call)
    assert len(results) == 2 and all(item.error is None for item in results)


def test_a_json_answer_with_a_bad_content_encoding_is_typed(hostile: Hostile) -> None:
    bad = Answer.json({"id": 7}, **{"Content-Encoding": "gzip"})  # says gzip, is plain JSON

    async def call(client: AsyncClient, dest: Path) -> Any:
        return await client.data.get("7")

    _run(hostile, {"/api/data/": bad}, call)


def test_a_download_error_answer_cut_short_is_typed(hostile: Hostile) -> None:
    record = {"id": 7, "filename": "ok.bin", "size": 5, "md5": None, "download_url": None}
    cut = Answer(400, b"", {"Content-Type": "application/json"}, length=7)

    async def call(client: AsyncClient, dest: Path) -> Any:
        return await client.data.download("7", dest)

    _run(hostile, {"/api/data/": Answer.json(record), "/files/": cut, "/api/downloads/": cut}, call)


def test_the_property_can_fail() -> None:
    """The check above is real: a non-FlowError escaping ``call`` fails ``_run``."""

    async def call(client: AsyncClient, dest: Path) -> Any:
        raise OSError("untyped")

    with hostile_server() as server, pytest.raises(OSError):
        _run(server, {}, call)
    assert os.path.isdir(tempfile.gettempdir())
