"""Local server process: restart persistence, the printed URL, start-up failures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from server_helpers import api
from sync_points import wait_for

from flowbio_async.testing import FlowServer, FlowServerError
from flowbio_async.testing._demo import DEMO_PROJECT_COUNT
from flowbio_async.testing._store import Store


def test_data_and_tokens_survive_a_restart(tmp_path: Path) -> None:
    server = FlowServer(data_dir=tmp_path)
    with server:
        with api(server) as client:
            token = client.headers["Authorization"]
            demo_id = int(client.get("me").json()["id"])
        server.stop()
        # Write while stopped, as another process would; the restarted server must see it.
        store = Store(tmp_path)
        store.insert(
            "projects", {"name": "Added offline", "owner": demo_id, "created": 1_800_000_000}
        )
        store.close()
        server.start()
        with httpx.Client(base_url=server.url + "/", headers={"Authorization": token}) as client:
            owned = client.get("projects/owned", params={"count": 100}).json()
    # The JWT secret is stored in the data dir, so the old token is still valid, and the
    # demo data is not seeded twice.
    assert owned["count"] == DEMO_PROJECT_COUNT + 1
    assert owned["projects"][0]["name"] == "Added offline"
    assert (tmp_path / "flow.sqlite3").is_file()


def test_no_demo_starts_empty(tmp_path: Path) -> None:
    with FlowServer(data_dir=tmp_path, demo=False) as server, api(server, None) as client:
        assert (
            client.post("login", json={"username": "demo", "password": "demo-password"}).status_code
            == 400
        )
        assert client.get("organisms").json() == []


def test_cli_prints_the_url_first_and_control_routes_are_opt_in(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "flowbio_async.testing", "--port", "0", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/api")
        with httpx.Client() as client:
            assert client.get(f"{url}/organisms").status_code == 200
            assert client.get(url.removesuffix("/api") + "/_testing/counters").status_code == 404
    finally:
        process.terminate()
        process.wait(timeout=20)
        assert process.stdout is not None
        process.stdout.close()


def test_start_failure_is_reported(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(FlowServerError, match="did not start"):
        FlowServer(data_dir=not_a_dir).start()


def test_cli_server_verb_maps_options_to_settings(tmp_path: Path) -> None:
    from flowbio_async._cli._main import build_parser
    from flowbio_async.testing._main import settings_from_args

    args = build_parser().parse_args(
        [
            "server",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
            "--no-demo",
            "--access-token-ttl",
            "60",
            "--rate-limit",
            "5",
            "--testing-control",
            "--anonymous-downgrade",
            "--strict-search-tokens",
            "--wrapped-field-errors",
            "--no-refresh-rotation",
        ]
    )
    settings = settings_from_args(args)
    assert (settings.port, settings.demo, settings.access_token_ttl) == (0, False, 60.0)
    assert (settings.rate_limit, settings.testing_control) == (5, True)
    assert settings.anonymous_downgrade and not settings.rotate_refresh_token
    assert settings.strict_search_tokens and settings.wrapped_field_errors
    assert settings.data_dir == str(tmp_path.resolve())


def _alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
def test_a_server_stops_when_the_process_that_started_it_is_killed(tmp_path: Path) -> None:
    # What pytest-timeout's thread method does to a stuck run (#12): os._exit, no cleanup.
    script = (
        "import sys, time\n"
        "from flowbio_async.testing import FlowServer\n"
        "server = FlowServer(data_dir=sys.argv[1]).start()\n"
        "print(server._process.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        server_pid = int(parent.stdout.readline())
        assert _alive(server_pid)
    finally:
        parent.kill()
        parent.wait(timeout=60)
        if parent.stdout is not None:
            parent.stdout.close()
    wait_for(lambda: not _alive(server_pid), "the orphaned server exiting")
