"""The sync facade against the local Flow server: the main scenarios without ``await``.

Also the failure modes sync wrappers usually get wrong: a running asyncio loop, threads sharing
one client, Ctrl-C during a transfer, a call from the loop thread, use after ``fork`` (#5).
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import os
import subprocess
import sys
import threading
import types
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sync_points import CtrlC, fault_applied, wait_for

import flowbio_sync
import flowbio_sync._portal as portal_module
from flowbio_async.testing import FlowServer
from flowbio_sync import (
    AuthenticationError,
    Client,
    ClientConfig,
    ProgressEvent,
    SyncUsageError,
    UsernamePasswordCredentials,
)

DEMO = UsernamePasswordCredentials(username="demo", password="demo-password")
MiB = 1024 * 1024


def _config(tmp_path: Path, **changes: object) -> ClientConfig:
    return ClientConfig(
        show_progress=False,
        backoff_initial=0.01,
        backoff_max=0.05,
        state_dir=tmp_path / "state",
        **changes,  # type: ignore[arg-type]
    )


@pytest.fixture
def client(flow_server: FlowServer, tmp_path: Path) -> Iterator[Client]:
    flow_server.reset()
    with Client(flow_server.url, _config(tmp_path)) as client:
        client.log_in(DEMO)
        yield client


def _file(path: Path, size: int) -> str:
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.md5(data).hexdigest()


def test_login_me_and_logout(flow_server: FlowServer, tmp_path: Path) -> None:
    with Client(flow_server.url, _config(tmp_path)) as client:
        with pytest.raises(AuthenticationError):
            client.me()  # users.md: 401 without a token (#15)
        client.log_in(DEMO)
        assert (client.me().id, client.me().username) == ("1", "demo")
        assert repr(client).startswith("Client(") and "logged_in=True" in repr(client)
        assert client.is_logged_in
        client.log_out()
        assert not client.is_logged_in
        with pytest.raises(AuthenticationError):
            client.samples.get_owned_projects().first_page()


def test_pagination_pages_count_and_iteration(flow_server: FlowServer, client: Client) -> None:
    pager = client.samples.get_owned_projects(page_size=4)
    assert isinstance(pager, flowbio_sync.Pager)
    assert len(pager.first_page()) == 4
    total = pager.count()
    assert total >= 13  # demo data: more than three pages of four
    assert len(pager) == total
    projects = list(pager)
    assert len({p.id for p in projects}) == total
    assert [p.id for p in pager[-3:]] == [p.id for p in projects[-3:]]
    assert [p.id for p in pager.page(2)] == [p.id for p in projects[4:8]]
    assert [p.id for p in client.projects.get_owned().all()] == [p.id for p in projects]


def test_upload_is_byte_exact_and_progress_runs_off_the_loop(
    client: Client, tmp_path: Path
) -> None:
    source = tmp_path / "reads.fastq"
    md5 = _file(source, 3 * MiB + 17)
    events: list[tuple[ProgressEvent, int]] = []
    data = client.data.upload_data(
        source, progress=lambda event: events.append((event, threading.get_ident()))
    )
    assert client.data.get(data.id).md5 == md5
    assert events[-1][0].kind == "finish" and events[-1][0].completed == 3 * MiB + 17
    assert all(thread != threading.get_ident() for _, thread in events)


def test_threads_share_one_client(client: Client) -> None:
    results: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                results.append(client.me().username or "")
                results.append(str(len(client.projects.get_owned(page_size=2).first_page())))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results.count("demo") == 40 and results.count("2") == 40


def test_works_inside_a_running_event_loop_and_warns_once(
    flow_server: FlowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(portal_module, "_running_loop_warned", False)

    async def notebook_cell() -> str | None:
        with Client(flow_server.url, _config(tmp_path)) as client:
            client.log_in(DEMO)
            return client.me().username

    with pytest.warns(RuntimeWarning, match="AsyncClient"):
        assert asyncio.run(notebook_cell()) == "demo"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert asyncio.run(notebook_cell()) == "demo"  # warned once per process


def test_a_call_from_the_loop_thread_raises_instead_of_deadlocking(client: Client) -> None:
    loop_portal = client._portal._portal  # the anyio portal: run a sync function on the loop
    with pytest.raises(SyncUsageError, match="event-loop thread"):
        loop_portal.call(client.me)
    assert client.me().username == "demo"


def test_use_after_fork_raises_a_clear_error(client: Client) -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        code = 1
        try:
            client.me()
        except SyncUsageError as exc:
            code = 0 if "fork" in str(exc) else 2
        except BaseException:
            code = 3
        os.write(write, bytes([code]))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        assert pipe.read() == b"\x00"
    os.waitpid(pid, 0)
    assert client.me().username == "demo"  # the parent's client is unaffected


@pytest.mark.timing
def test_ctrl_c_during_an_upload_cancels_it_and_it_resumes(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    source = tmp_path / "big.fastq"
    md5 = _file(source, 4 * MiB)
    chunk = 128 * 1024
    flow_server.reset()
    # The server holds the third chunk: when Ctrl-C lands, two chunks are acknowledged and
    # the third is in flight, however fast or slow the machine is (#12: events, not sleeps).
    stall = flow_server.add_fault("stall", route="upload", nth=3, seconds=600)
    config = _config(tmp_path, chunk_size=chunk, max_chunk_size=chunk)
    with Client(flow_server.url, config) as client:
        client.log_in(DEMO)
        events: list[ProgressEvent] = []
        with (
            CtrlC(lambda: fault_applied(flow_server, stall), "the third chunk reaching the server"),
            pytest.raises(KeyboardInterrupt),
        ):
            client.data.upload_data(source, progress=events.append)
        assert events[-1].kind == "finish"  # the cancelled call still delivered its last event
        records = [json.loads(path.read_text()) for path in (tmp_path / "state").rglob("*.json")]
        assert [r["offset"] for r in records] == [2 * chunk]  # resumable after the acked chunks
        chunks_before = flow_server.counters().get("upload", 0)
        flow_server.clear_faults()
        # The held request is still asleep in the server; it wakes long after this test and
        # finds its upload complete (the server refuses a chunk for a finished upload).
        data = client.data.upload_data(source)  # resume=True by default
        assert client.data.get(data.id).md5 == md5
        assert flow_server.counters()["upload"] - chunks_before == 32 - 2  # resumed, not restarted


@pytest.mark.timing
def test_ctrl_c_during_a_download_cancels_it_and_leaves_no_final_file(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    config = _config(tmp_path, download_buffer_size=256 * 1024)
    with Client(flow_server.url, config) as client:
        client.log_in(DEMO)
        source = tmp_path / "payload.bin"
        md5 = _file(source, 8 * MiB)
        data = client.data.upload_data(source)
        flow_server.reset()
        # The first answer is cut after 1 MiB (kept in the part file); the resuming request is
        # then held by the server, and Ctrl-C lands while the client waits for it (#12).
        downloads = "^/(api|files)/downloads/"
        flow_server.add_fault("cut", path=downloads, bytes=MiB, nth=1, count=1)
        stall = flow_server.add_fault("stall", path=downloads, seconds=600, nth=2, count=0)
        events: list[ProgressEvent] = []
        dest = tmp_path / "out"
        dest.mkdir()
        tasks_before = _loop_tasks(client)
        with (
            CtrlC(lambda: fault_applied(flow_server, stall), "the resuming request being held"),
            pytest.raises(KeyboardInterrupt),
        ):
            client.data.download(data.id, dest, progress=events.append)
        assert events[-1].kind == "finish"  # the cancelled call still delivered its last event
        # The download task ends (it was cancelled, not left running): waited for, not timed.
        wait_for(lambda: _loop_tasks(client) == tasks_before, "the download task ending")
        flow_server.clear_faults()
        assert not (dest / "payload.bin").exists()
        resumed = client.data.download(data.id, dest)
        assert (resumed.path, resumed.resumed_from) == (dest / "payload.bin", MiB)
        assert resumed.md5 == md5


def _loop_threads() -> int:
    """Private loop threads alive in this process (other tests' helper threads come and go)."""
    return sum(thread.name == "flowbio-sync-loop" for thread in threading.enumerate())


def _loop_tasks(client: Client) -> int:
    """Tasks alive on the client's private loop (counted on the loop itself)."""
    return client._portal._portal.call(lambda: len(asyncio.all_tasks()))


def test_closed_client_refuses_calls(flow_server: FlowServer, tmp_path: Path) -> None:
    client = Client(flow_server.url, _config(tmp_path))
    thread_count = _loop_threads()
    client.close()
    client.close()
    assert _loop_threads() == thread_count - 1  # the loop thread is gone
    with pytest.raises(SyncUsageError, match="closed"):
        client.me()


def test_an_unclosed_client_is_closed_by_gc_and_at_exit(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    threads = _loop_threads()
    client = Client(flow_server.url, _config(tmp_path))
    assert [o.id for o in client.samples.get_organisms()] == ["Hs", "Mm"]
    del client
    gc.collect()
    assert _loop_threads() == threads  # the finalizer stopped the loop thread
    script = (
        "import sys\n"
        "from flowbio_sync import Client, ClientConfig\n"
        "client = Client(sys.argv[1], ClientConfig(show_progress=False))\n"
        "print(client.samples.get_organisms()[0].id)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, flow_server.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "Hs\n", "")


def test_bad_arguments_raise_and_leave_no_thread_behind() -> None:
    threads = _loop_threads()
    with pytest.raises(flowbio_sync.ConfigurationError):
        Client("ftp://127.0.0.1/api")
    assert _loop_threads() == threads


def test_no_warning_inside_ipython(
    flow_server: FlowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(portal_module, "_running_loop_warned", False)
    fake_ipython = types.ModuleType("IPython")
    fake_ipython.get_ipython = lambda: object()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)

    async def notebook_cell() -> str | None:
        with Client(flow_server.url, _config(tmp_path)) as client:
            return client.get_raw("samples/types")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert '"identifier"' in (asyncio.run(notebook_cell()) or "")
