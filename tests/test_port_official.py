"""The official flowbio v2 examples run on ``flowbio_sync`` with only the import changed (#17).

Each snippet of the seed documents' "v2 Client" page (seed 001) and "Data Files" page (seed
000) is in ``tests/ported/`` verbatim, except its import line and, where it has them, the
base URL and credentials (see ``tests/ported/README.md``). They run here against the local
server, in a folder holding the files they read (``reads_R1.fastq.gz``, ``counts.tsv``,
``reads.bam``, ``results.zip``).

One conflict is known: the Quick Start uploads a sample named "My RNA-Seq Sample", and Flow
refuses spaces in sample names (the maintainers' notes, the local server since #15); the SDK
refuses the name before any byte is sent, and that is what its test asserts.
"""

from __future__ import annotations

import gzip
import json
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import flowbio_sync
from flowbio_async import AuthenticationError, ConfigurationError
from flowbio_async.testing import FlowServer

PORTED = Path(__file__).parent / "ported"
DEMO = ("demo", "demo-password")


def _token(server: FlowServer) -> str:
    """An access token for ``demo``, as a user would copy it from Flow (``POST /login``)."""
    body = json.dumps({"username": DEMO[0], "password": DEMO[1]}).encode()
    request = urllib.request.Request(
        f"{server.url}/login", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        token: str = json.load(answer)["token"]
    return token


@pytest.fixture
def workdir(
    flow_server: FlowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A folder with the files the snippets read; ``Client()`` reaches the local server."""
    flow_server.reset()
    read = b"@r1\nACGTACGTAC\n+\nIIIIIIIIII\n" * 200
    (tmp_path / "reads_R1.fastq.gz").write_bytes(gzip.compress(read))
    (tmp_path / "counts.tsv").write_text("gene\tcount\nBRCA1\t42\nTP53\t7\n")
    (tmp_path / "reads.bam").write_bytes(b"BAM\x01" + bytes(range(256)) * 40)
    with zipfile.ZipFile(tmp_path / "results.zip", "w") as archive:
        archive.writestr("results/summary.txt", "all good\n")
        archive.writestr("results/table.csv", "a,b\n1,2\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLOW_API_URL", flow_server.url)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # resume records stay here
    yield tmp_path


@pytest.fixture
def page_client(flow_server: FlowServer, workdir: Path) -> Iterator[flowbio_sync.Client]:
    """The ``client`` a page set up before the snippets that use it."""
    with flowbio_sync.Client() as client:
        client.log_in(flowbio_sync.UsernamePasswordCredentials(*DEMO))
        yield client


@contextmanager
def _ran(name: str, server: FlowServer, **context: Any) -> Iterator[dict[str, Any]]:
    """Execute ``tests/ported/<name>.py.txt`` as a script; give its globals, then close the
    clients it made."""
    path = PORTED / f"{name}.py.txt"
    namespace: dict[str, Any] = {"__name__": "__main__", "LOCAL_API_URL": server.url, **context}
    try:
        exec(compile(path.read_text(), str(path), "exec"), namespace)
        yield namespace
    finally:
        for value in list(namespace.values()):
            if isinstance(value, flowbio_sync.Client) and value is not context.get("client"):
                value.close()


def _run(name: str, server: FlowServer, **context: Any) -> dict[str, Any]:
    """:func:`_ran` for snippets checked after they ended: their globals."""
    with _ran(name, server, **context) as namespace:
        return namespace


def _uploads(server: FlowServer) -> int:
    counts = server.counters()
    return sum(n for route, n in counts.items() if "upload" in route)


def test_the_ported_snippets_are_all_run_here() -> None:
    tested = {
        name.removeprefix("test_").split("__")[0] for name in globals() if name.startswith("test_")
    }
    for path in PORTED.glob("*.py.txt"):
        assert path.name.removesuffix(".py.txt") in tested, f"{path.name} is not run by a test"


# -- seed 001, the "v2 Client" page -------------------------------------------------------------


def test_seed001_quick_start(
    flow_server: FlowServer, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The one known conflict: "My RNA-Seq Sample" has spaces, which Flow's server refuses.

    The SDK refuses it before the first byte: no upload request reaches the server and no
    sample is created. Everything before it (log in, sample types) ran unchanged.
    """
    with flowbio_sync.Client() as observer:
        observer.log_in(flowbio_sync.UsernamePasswordCredentials(*DEMO))
        samples_before = len(observer.samples.search())
    flow_server.reset_counters()
    with (
        pytest.raises(ConfigurationError, match="contains spaces, which Flow refuses"),
        _ran("seed001_quick_start", flow_server),
    ):
        pass
    assert "RNA-Seq: RNA-Seq" in capsys.readouterr().out  # the sample types were listed
    counts = flow_server.counters()
    assert counts.get("login") == 1 and counts.get("sample_types", 0) >= 1  # ran up to there
    assert _uploads(flow_server) == 0 and "upload_sample" not in counts  # refused before any byte
    with flowbio_sync.Client() as observer:
        observer.log_in(flowbio_sync.UsernamePasswordCredentials(*DEMO))
        assert len(observer.samples.search()) == samples_before


def test_seed001_client_usage(flow_server: FlowServer, workdir: Path) -> None:
    with _ran("seed001_client_usage", flow_server) as done:
        client = done["client"]
        assert client.is_logged_in and client.me().username == "demo"


def test_seed001_private_instance(flow_server: FlowServer, workdir: Path) -> None:
    # The page imported Client in an earlier snippet.
    with _ran("seed001_private_instance", flow_server, Client=flowbio_sync.Client) as done:
        assert done["client"].base_url == flow_server.url
        assert [t.identifier for t in done["client"].samples.get_types()]  # it answers


def test_seed001_client_config(flow_server: FlowServer, workdir: Path) -> None:
    with _ran("seed001_client_config", flow_server) as done:
        config = done["client"].config
        assert config.chunk_size == 5_000_000 and config.show_progress is False
        assert config.request_timeout == timedelta(minutes=2)


# -- seed 000, the "Data Files" page ------------------------------------------------------------


def _stored(client: flowbio_sync.Client, data_id: str) -> flowbio_sync.Data:
    return client.data.get(data_id)


def _type_of(data: flowbio_sync.Data) -> str | None:
    kind = data.data_type
    return kind.get("identifier") if isinstance(kind, dict) else kind


def test_seed000_data_files(
    flow_server: FlowServer, page_client: flowbio_sync.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    with _ran("seed000_data_files", flow_server, token=_token(flow_server)) as done:
        assert done["client"].me().username == "demo"
    assert capsys.readouterr().out.strip() == done["data"].id
    stored = _stored(page_client, done["data"].id)
    assert stored.filename == "counts.tsv" and stored.size == Path("counts.tsv").stat().st_size


def test_seed000_uploading(
    flow_server: FlowServer, page_client: flowbio_sync.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    done = _run("seed000_uploading", flow_server, client=page_client)
    assert capsys.readouterr().out.strip() == f"Data ID: {done['data'].id}"


def test_seed000_filename(flow_server: FlowServer, page_client: flowbio_sync.Client) -> None:
    done = _run("seed000_filename", flow_server, client=page_client, Path=Path)
    assert _stored(page_client, done["data"].id).filename == "experiment_42_counts.tsv"


def test_seed000_data_type_and_archive(
    flow_server: FlowServer, page_client: flowbio_sync.Client
) -> None:
    done = _run("seed000_data_type_and_archive", flow_server, client=page_client, Path=Path)
    bam = _stored(page_client, done["data"].id)
    assert bam.filename == "reads.bam" and _type_of(bam) == "bam"
    archive = _stored(page_client, done["archive"].id)
    assert archive.is_directory is True


def test_seed000_data_resource(flow_server: FlowServer, page_client: flowbio_sync.Client) -> None:
    """The snippet makes a new ``Client()`` and uploads without ``log_in``: Flow answers 401,
    with the official client as with this one (the page shows where ``data`` lives, not a
    complete script)."""
    with (
        pytest.raises(AuthenticationError),
        _ran("seed000_data_resource", flow_server, Client=flowbio_sync.Client, Path=Path),
    ):
        pass


def test_seed000_upload_data_example(
    flow_server: FlowServer, page_client: flowbio_sync.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    done = _run("seed000_upload_data_example", flow_server, client=page_client)
    assert capsys.readouterr().out.strip() == f"Data ID: {done['data'].id}"
    assert _stored(page_client, done["data"].id).md5 is not None


def test_a_listing_is_used_as_the_official_docs_show(
    flow_server: FlowServer, page_client: flowbio_sync.Client
) -> None:
    """The official ``PageIterator``: iterate it, ``len()`` after one page, ``list()`` it all."""
    flow_server.reset_counters()
    projects = page_client.samples.get_owned_projects()
    names = [project.name for project in projects]
    assert len(projects) == len(names) == 25
    assert [p.name for p in list(projects)] == names
    assert flow_server.counters()["projects_owned"] == 3  # each page once


# -- flowbio.v2.exceptions: the same names, caught by the same except clauses -------------------

OFFICIAL_EXCEPTIONS = {
    # flowbio 0.14.1, flowbio/v2/exceptions.py: each class and its official base.
    "FlowApiError": "Exception",
    "AuthenticationError": "FlowApiError",
    "BadRequestError": "FlowApiError",
    "UnprocessableError": "BadRequestError",
    "AnnotationValidationError": "BadRequestError",
    "NotFoundError": "FlowApiError",
}


def test_the_official_exception_module_is_mirrored() -> None:
    import flowbio_async
    import flowbio_async.exceptions
    import flowbio_sync.exceptions

    for module in (flowbio_async.exceptions, flowbio_sync.exceptions):
        assert set(OFFICIAL_EXCEPTIONS) <= set(module.__all__)
        for name, base in OFFICIAL_EXCEPTIONS.items():
            cls = getattr(module, name)
            assert cls is getattr(flowbio_async, name) is getattr(flowbio_sync, name)  # aliases
            assert issubclass(cls, getattr(module, base, Exception)), (name, base)
            assert issubclass(cls, module.FlowError)


def test_ported_except_clauses_catch_what_the_official_client_raises(
    flow_server: FlowServer, workdir: Path
) -> None:
    """What a script for the official client catches, with only the imports changed."""
    from flowbio_sync.exceptions import (
        AnnotationValidationError,
        AuthenticationError,
        BadRequestError,
        FlowApiError,
        NotFoundError,
    )

    caught: list[tuple[str, int]] = []
    with flowbio_sync.Client() as client:
        try:
            client.log_in(flowbio_sync.UsernamePasswordCredentials("demo", "wrong-password"))
        except BadRequestError as exc:  # the official client: 400 from POST /login
            caught.append(("login", exc.status_code))
        try:
            client.data.upload_data(Path("counts.tsv"))
        except AuthenticationError as exc:  # not logged in: 401
            caught.append(("anonymous upload", exc.status_code))
        client.log_in(flowbio_sync.UsernamePasswordCredentials(*DEMO))
        try:
            client.data.get("987654321")
        except NotFoundError as exc:
            caught.append(("get", exc.status_code))
        flow_server.reset_counters()
        # Flow answers these with 400 (the official client learns it from the server); the
        # SDK refuses them before the first byte, as a BadRequestError all the same.
        try:
            client.samples.upload_sample(
                name="My RNA-Seq Sample",
                sample_type="RNA-Seq",
                data={"reads1": Path("reads_R1.fastq.gz")},
            )
        except BadRequestError as exc:
            caught.append(("sample name with spaces", exc.status_code))
            assert "contains spaces" in exc.message
        try:
            client.data.upload_data(Path("counts.tsv"), filename="my counts.tsv")
        except BadRequestError as exc:
            caught.append(("filename with spaces", exc.status_code))
        assert _uploads(flow_server) == 0  # nothing was sent for either
        Path("sheet.csv").write_text("Sample Name,File,Type\n,pool_R1.fastq.gz,No-Such-Type\n")
        try:
            client.samples.upload_annotation(Path("sheet.csv"))
        except AnnotationValidationError as exc:
            caught.append(("annotation", exc.status_code))
            assert exc.errors
        try:
            client.samples.get("987654321")
        except FlowApiError as exc:  # the official base class catches every API error
            caught.append(("any", exc.status_code))
    assert caught == [
        ("login", 400),
        ("anonymous upload", 401),
        ("get", 404),
        ("sample name with spaces", 400),
        ("filename with spaces", 400),
        ("annotation", 400),
        ("any", 404),
    ]
