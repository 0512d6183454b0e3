"""``flowbio-async`` login/logout/whoami, the token file and the frame's exit codes (#6).

Every test runs the real command in a subprocess against the local server, with HOME in a
temporary directory so the token file lands there.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
from cli_helpers import COMMAND, Cli

from flowbio_async.testing import FlowServer


@pytest.fixture
def cli(flow_server: FlowServer, tmp_path: Path) -> Cli:
    return Cli(flow_server.url, tmp_path / "home")


def test_help_lists_every_verb() -> None:
    done = subprocess.run([*COMMAND, "--help"], capture_output=True, text=True, check=True)
    commands = (
        "login", "logout", "whoami", "data upload", "samples upload", "samples upload-batch",
        "samples types", "samples metadata", "organisms", "projects", "download",
        "bulk-download", "files list", "files upload", "files download", "files delete",
        "server",
    )  # fmt: skip
    for command in commands:
        assert f"\n  {command} " in done.stdout, command
        assert subprocess.run([*COMMAND, *command.split(), "--help"], check=False).returncode == 0


def test_login_prompts_for_the_password_and_writes_a_0600_token_file(cli: Cli) -> None:
    code, screen = cli.login()
    assert code == 0, screen
    assert "Logged in as demo" in screen
    assert "demo-password" not in screen  # getpass does not echo
    mode = stat.S_IMODE(cli.token_file.stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(cli.token_file.parent.stat().st_mode) == 0o700
    saved = json.loads(cli.token_file.read_text())
    assert saved["token"] and saved["refresh_token"]
    assert saved["token"] not in screen


def test_login_with_username_flag_asks_only_the_password(cli: Cli) -> None:
    code, screen = cli.in_pty(
        "login", "--username", "demo", answers=[(b"password:", b"demo-password")]
    )
    assert code == 0, screen
    assert "username:" not in screen


def test_there_is_no_way_to_pass_a_password_except_the_prompt(cli: Cli) -> None:
    done = cli("login", "--help")
    assert done.code == 0
    assert re.search(r"--\S*pass", done.stdout) is None  # no --password-like option at all
    assert cli("login", "--password", "demo-password").code == 2
    # Not even from the environment: without a terminal the command refuses to prompt.
    refused = cli("login", "--username", "demo", env={"FLOW_PASSWORD": "demo-password"})
    assert refused.code == 2
    assert "not a terminal" in refused.stderr
    assert not cli.token_file.exists()


def test_wrong_password_is_a_bad_request_exit_5(cli: Cli) -> None:
    code, screen = cli.in_pty(
        "--json", "login", "--username", "demo", answers=[(b"password:", b"wrong")]
    )
    assert code == 5
    document = json.loads(screen.strip().splitlines()[-1])
    assert document == {"message": "Invalid credentials", "status_code": 400}
    assert not cli.token_file.exists()


def test_whoami_uses_the_token_file_and_json_goes_before_or_after_the_verb(cli: Cli) -> None:
    assert cli.login()[0] == 0
    before = cli("--json", "whoami")
    after = cli("whoami", "--json")
    assert before.code == after.code == 0, before.stderr
    assert before.json()["username"] == after.json()["username"] == "demo"
    human = cli("whoami")
    assert human.stdout.startswith("demo (id ")


def test_an_expired_access_token_is_refreshed_and_the_file_kept_current(cli: Cli) -> None:
    assert cli.login()[0] == 0
    saved = json.loads(cli.token_file.read_text())
    # An access token the server refuses (as once it expires), with a valid refresh token:
    # the 401 triggers GET /token with the saved cookie (docs/protocol.md §2.2).
    saved["token"] = saved["token"][:-4] + (
        "AAAA" if not saved["token"].endswith("AAAA") else "BBBB"
    )
    cli.token_file.write_text(json.dumps(saved))
    done = cli("--json", "whoami")
    assert done.code == 0, done.stderr
    assert done.json()["username"] == "demo"
    rotated = json.loads(cli.token_file.read_text())
    assert rotated["token"] != saved["token"]
    assert rotated["refresh_token"]
    assert stat.S_IMODE(cli.token_file.stat().st_mode) == 0o600


def test_bad_token_is_an_auth_error_exit_3(cli: Cli) -> None:
    done = cli("whoami", "--json", "--token", "not-a-valid-token")
    assert done.code == 3
    assert done.error_json()["message"]
    assert "not-a-valid-token" not in done.stderr


def test_bare_token_file_of_the_official_cli_is_accepted(cli: Cli, tmp_path: Path) -> None:
    assert cli.login()[0] == 0
    bare = tmp_path / "bare-token"
    bare.write_text(json.loads(cli.token_file.read_text())["token"] + "\n")
    done = cli("whoami", "--token-file", str(bare))
    assert done.code == 0, done.stderr
    env_done = cli("whoami", env={"FLOW_TOKEN_FILE": str(bare)})
    assert env_done.code == 0, env_done.stderr


def test_missing_named_token_file_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    done = cli("--json", "whoami", "--token-file", str(tmp_path / "nope"))
    assert done.code == 2
    assert "does not exist" in done.error_json()["message"]


def test_no_credentials_without_a_terminal_is_a_usage_error(cli: Cli) -> None:
    done = cli("whoami")
    assert done.code == 2
    assert "flowbio-async login" in done.stderr


def test_unreachable_server_is_a_runtime_error_exit_1(cli: Cli) -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused.
    done = cli("--json", "whoami", "--token", "t", "--base-url", "http://127.0.0.1:9/api")
    assert done.code == 1
    assert done.error_json()["message"]


def test_logout_deletes_the_token_file(cli: Cli) -> None:
    assert cli.login()[0] == 0
    done = cli("logout", "--json")
    assert done.code == 0, done.stderr
    assert done.json()["removed"] is True
    assert not cli.token_file.exists()
    again = cli("logout")
    assert again.code == 0
    assert "No token file" in again.stdout


def test_unknown_verb_and_missing_verb_are_usage_errors(cli: Cli) -> None:
    assert cli("frobnicate").code == 2
    assert cli().code == 2


def test_environment_and_options_merge_before_and_after_the_verb(
    cli: Cli, flow_server: FlowServer, tmp_path: Path
) -> None:
    assert cli.login()[0] == 0
    token = json.loads(cli.token_file.read_text())["token"]
    cli.token_file.unlink()
    # FLOW_API_TOKEN alone is enough.
    by_env = cli("whoami", "--json", env={"FLOW_API_TOKEN": token})
    assert by_env.code == 0, by_env.stderr
    # --base-url after the verb beats a wrong FLOW_API_URL; --token before the verb.
    wrong = {"FLOW_API_URL": "http://127.0.0.1:9/api"}
    mixed = cli("--token", token, "whoami", "--base-url", flow_server.url, "--json", env=wrong)
    assert mixed.code == 0, mixed.stderr
    assert mixed.json()["username"] == "demo"
    # --token-file after the verb, --json before it.
    path = tmp_path / "token"
    path.write_text(token)
    assert cli("--json", "whoami", "--token-file", str(path)).json()["username"] == "demo"


def test_a_terminal_gets_a_table(cli: Cli) -> None:
    code, screen = cli.in_pty("organisms", answers=[])
    assert code == 0, screen
    assert "Latin name" in screen and "Homo sapiens" in screen


def test_json_login_keeps_prompts_off_stdout(cli: Cli) -> None:
    controller, terminal = os.openpty()
    process = subprocess.Popen(
        [*COMMAND, "login", "--json"],
        env=cli.env,
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=terminal,
    )
    os.close(terminal)
    try:
        screen = b""
        for prompt, reply in ((b"username:", b"demo"), (b"password:", b"demo-password")):
            while prompt not in screen:
                screen += os.read(controller, 1024)
            os.write(controller, reply + b"\n")
        stdout, _ = process.communicate(timeout=60)
    finally:
        os.close(controller)
    assert process.returncode == 0
    assert json.loads(stdout)["username"] == "demo"  # the whole of stdout is one document


def test_server_error_is_a_runtime_error_exit_1(cli: Cli, flow_server: FlowServer) -> None:
    assert cli.login()[0] == 0
    flow_server.add_fault(path="/api/me$", status=500, body={"error": "database on fire"})
    try:
        done = cli("whoami", "--json")
    finally:
        flow_server.clear_faults()
    assert done.code == 1
    assert done.error_json() == {"message": "database on fire", "status_code": 500}
