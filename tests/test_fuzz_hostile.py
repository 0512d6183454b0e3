"""Whatever a hostile server answers, the public API returns or raises a ``FlowError`` (#14).

A real loopback server (``hostile_helpers``) answers each request with what Hypothesis
draws: odd statuses, lying ``Content-Length``, ``Content-Encoding`` and ``Content-Range``
headers, bodies of random bytes or of JSON with hostile values (names with ``..``, NUL and
300 characters, negative, huge, fractional or textual sizes), archives with nasty entries.
Each call must either succeed or raise a ``FlowError`` subclass; downloads must leave
nothing under the final name on failure and nothing at all outside the destination.
``test_public_api`` runs the same property over every area of the public API (reads,
listings, uploads, every kind of download), with JSON nested 5000 deep, URLs with
impossible ports or broken IPv6 literals and a ``Content-Encoding`` that does not match the
body among the answers (#14 items 4 and 6). Trickles and bodies that never end are in
``tests/test_core_hostile_http.py``: they need time, not examples.
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
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from hostile_helpers import Answer, Hostile, hostile_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowbio_async import AsyncClient, ClientConfig, FlowError, ServerError, TokenCredentials

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
NESTED = b"[" * 5000 + b"]" * 5000  # deeper than any JSON parser takes (#14 item 4)
UNUSABLE_URLS = ["http://127.0.0.1:99999/x", "http://[::1/x", "ftp://example.invalid/x"]
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
)  # shallow: deep nesting comes as raw bytes (NESTED) below


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as zipped:
        warnings.simplefilter("ignore")  # duplicate names are part of the point
        for name, content in entries:
            zipped.writestr(zipfile.ZipInfo(name), content)
    return buffer.getvalue()


bodies = st.one_of(
    st.binary(max_size=3000),
    st.sampled_from([NESTED, b'{"count": 1, "data": ' + NESTED + b"}", b'{"id": ' + NESTED + b"}"]),
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
def answers(draw: st.DrawFn, body: st.SearchStrategy[bytes] = bodies) -> Answer:
    """One hostile answer: a status, lying headers (``Content-Encoding`` included, on whole
    reads and error answers too) and a body."""
    status = draw(
        st.sampled_from([200, 200, 200, 206, 400, 401, 403, 404, 410, 416, 429, 500, 502])
    )
    content = draw(body)
    headers: dict[str, str] = {}
    kind = draw(st.sampled_from(["application/json", "text/html", "application/octet-stream", ""]))
    if kind:
        headers["Content-Type"] = kind
    encoding = draw(st.sampled_from(["", "", "gzip", "br", "identity"]))
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
    return answers(st.just(json.dumps(document).encode()))


@st.composite
def data_records(draw: st.DrawFn, base: str) -> dict[str, Any]:
    return {
        "id": draw(st.sampled_from([7, "7", "7/../8"])),
        "filename": draw(names),
        "size": draw(sizes),
        "md5": draw(md5s),
        "download_url": draw(
            st.sampled_from(
                [None, "", f"{base}/storage/f", f"{base}/storage/f?token=abc", *UNUSABLE_URLS]
            )
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
        source = root / "src" / "reads_R1.fq"  # what upload calls send (_source)
        source.parent.mkdir()
        source.write_bytes(b"@r1\nACGT\n+\nIIII\n")
        state = root / "state"  # upload resume records

        async def main() -> None:
            async with AsyncClient(hostile.api, replace(CONFIG, state_dir=state)) as client:
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
            assert path in {dest, source.parent, source} or any(
                path == place or path.is_relative_to(place) for place in (dest, state)
            ), path


@pytest.fixture(scope="module")
def hostile() -> Any:
    with hostile_server() as server:
        yield server


@pytest.mark.parametrize("many", [False, True], ids=["download", "download_many"])
@SETTINGS
@given(data=st.data())
def test_data_downloads(hostile: Hostile, data: st.DataObject, many: bool) -> None:
    record = data.draw(data_records(hostile.base))
    meta = data.draw(st.one_of(_json_answer(record), answers()))
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
    listing = data.draw(st.one_of(_json_answer([item]), _json_answer({"files": [item]}), answers()))
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
    status = data.draw(st.one_of(_json_answer(job), answers()))
    archive = data.draw(answers())

    async def call(client: AsyncClient, dest: Path) -> Any:
        return await client.downloads.download(["1"], dest, extract=True, timeout=5)

    _run(hostile, {"/api/downloads": status, "/storage/": archive}, call)


@SETTINGS
@given(answer=answers(st.one_of(bodies, json_values.map(lambda v: json.dumps(v).encode()))))
def test_reads_and_listings(hostile: Hostile, answer: Answer) -> None:
    async def call(client: AsyncClient, dest: Path) -> Any:
        await client.me()
        await client.data.get("7")
        return [sample async for sample in client.samples.search()]

    _run(hostile, {"/api/": answer}, call)


def _source(dest: Path) -> Path:
    return dest.parent / "src" / "reads_R1.fq"


Call = Callable[[AsyncClient, Path], Awaitable[Any]]
PUBLIC_API: dict[str, Call] = {
    "me": lambda c, d: c.me(),
    "search": lambda c, d: c.search("liver"),
    "users.search": lambda c, d: c.users.search(name="demo").page(1),
    "samples.get": lambda c, d: c.samples.get("7"),
    "samples.get_data": lambda c, d: c.samples.get_data("7").page(1),
    "samples.get_executions": lambda c, d: c.samples.get_executions("7").first_page(),
    "samples.get_types": lambda c, d: c.samples.get_types(),
    "samples.get_metadata_attributes": lambda c, d: c.samples.get_metadata_attributes(),
    "samples.get_organisms": lambda c, d: c.samples.get_organisms(),
    "samples.download": lambda c, d: c.samples.download("7", d),
    "samples.upload_sample": lambda c, d: c.samples.upload_sample(
        "s1", "generic", {"reads1": _source(d)}, metadata={"scientist": "x"}
    ),
    "projects.get": lambda c, d: c.projects.get("7"),
    "projects.search": lambda c, d: c.projects.search(name="x").page(1),
    "projects.download": lambda c, d: c.projects.download("7", d),
    "executions.get": lambda c, d: c.executions.get("7"),
    "executions.search": lambda c, d: c.executions.search(status="OK").page(1),
    "executions.get_log": lambda c, d: c.executions.get_log("7", offset=3),
    "executions.download_outputs": lambda c, d: c.executions.download_outputs("7", d),
    "executions.download_result": lambda c, d: c.executions.download_result("7", "r/a.txt", d),
    "data.get_types": lambda c, d: c.data.get_types(),
    "data.download_asset": lambda c, d: c.data.download_asset("7", "qc_data/a.txt", f"{d}/"),
    "data.upload_data": lambda c, d: c.data.upload_data(_source(d)),
    "files.upload": lambda c, d: c.files.upload(_source(d), workspace_id="ws"),
    "pipelines.get_catalogue": lambda c, d: c.pipelines.get_catalogue(),
    "pipelines.get": lambda c, d: c.pipelines.get("7"),
    "pipelines.get_version": lambda c, d: c.pipelines.get_version("7"),
    "downloads.status": lambda c, d: c.downloads.status("j1"),
    "downloads.fetch": lambda c, d: c.downloads.fetch("j1", d),
}


@st.composite
def documents(draw: st.DrawFn, base: str) -> dict[str, Any]:
    """One JSON answer that reads as many records at once (a sample, an execution, a data
    file, a job, a listing page, an upload's answer), each field hostile, so that multi-step
    calls get past their first request."""
    record = draw(data_records(base))
    listing = draw(st.one_of(st.just([record]), st.just([]), json_values))
    return {
        **record,
        "name": draw(names),
        "count": draw(st.one_of(st.none(), st.integers(-1, 3), st.text(max_size=3))),
        "status": draw(st.sampled_from(["OK", "", "ERROR", "completed", None, 7])),
        "data_id": draw(st.sampled_from([7, "7", None, "../7"])),
        "sample_id": draw(st.sampled_from([7, "7", None])),
        "log": draw(st.one_of(st.text(max_size=20), st.none(), st.integers())),
        **{key: listing for key in ("data", "samples", "executions", "projects", "outputs")},
    }


@pytest.mark.parametrize("name", sorted(PUBLIC_API))
@settings(SETTINGS, max_examples=8)
@given(data=st.data())
def test_public_api(hostile: Hostile, data: st.DataObject, name: str) -> None:
    """Every area of the public API against hostile answers: success or a ``FlowError``."""
    api = data.draw(st.one_of(_json_answer(data.draw(documents(hostile.base))), answers()))
    body = data.draw(answers())
    routes = {"/api/": api, "/storage/": body, "/files/": body, "/api/downloads/": body}
    _run(hostile, routes, PUBLIC_API[name])


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


def test_concurrent_lookups_raise_the_flow_error_itself(hostile: Hostile) -> None:
    """Found by ``test_public_api``: a call that looks things up concurrently (the upload
    checks' catalogue, metadata options) let anyio's ``ExceptionGroup`` out instead of the
    ``FlowError`` inside it; ``except ServerError`` must catch it."""
    caught: list[BaseException] = []
    attribute = {"identifier": "tissue", "name": "Tissue", "has_options": True}

    async def call(client: AsyncClient, dest: Path) -> Any:
        for lookup in (
            lambda: client.samples.upload_sample("s1", "generic", {"reads1": _source(dest)}),
            client.samples.get_metadata_attributes,
        ):
            try:
                await lookup()
            except Exception as exc:  # the type is what is checked
                caught.append(exc)

    routes = {
        "/api/samples/types": Answer.json({"error": "down"}, 500),
        "/api/samples/metadata": Answer.json([attribute]),
        "/api/samples/metadata/tissue/options": Answer.json({"error": "down"}, 500),
    }
    _run(hostile, routes, call)
    assert [type(exc) for exc in caught] == [ServerError, ServerError], caught


def test_the_property_can_fail() -> None:
    """The check above is real: a non-FlowError escaping ``call`` fails ``_run``."""

    async def call(client: AsyncClient, dest: Path) -> Any:
        raise OSError("untyped")

    with hostile_server() as server, pytest.raises(OSError):
        _run(server, {}, call)
    assert os.path.isdir(tempfile.gettempdir())
