"""Issue #14 item 11: the token file's folders are private, or the file is not used.

Under ``umask 0`` ``~/.config`` was created 0777, and an existing 0777 ``flow/`` folder was
kept, so another user could swap the token file (the file itself stayed 0600).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import Cli

from flowbio_async import ConfigurationError
from flowbio_async._auth import TokenFileCredentials
from flowbio_async._cli._tokenfile import write_token_file


@pytest.fixture
def zero_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_missing_folders_are_created_0700_under_umask_0(tmp_path: Path, zero_umask: None) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    path = home / ".config" / "flow" / "api-token"
    write_token_file(path, "access-token-value", "refresh-token-value")
    assert _mode(home / ".config") == 0o700
    assert _mode(home / ".config" / "flow") == 0o700
    assert _mode(path) == 0o600


def test_missing_folders_are_usable_even_under_umask_0700(tmp_path: Path) -> None:
    previous = os.umask(0o700)
    try:
        write_token_file(tmp_path / "a" / "b" / "api-token", "access-token-value", None)
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "a") == 0o700 and _mode(tmp_path / "a" / "b") == 0o700


@pytest.mark.parametrize("which", ["flow", ".config"])
def test_a_folder_writable_by_others_is_refused_for_writing_and_reading(
    tmp_path: Path, which: str
) -> None:
    path = tmp_path / ".config" / "flow" / "api-token"
    write_token_file(path, "access-token-value", None)
    open_folder = tmp_path / ".config" if which == ".config" else path.parent
    open_folder.chmod(0o777)
    with pytest.raises(ConfigurationError, match="writable by every user") as caught:
        write_token_file(path, "new-access-token", None)
    assert str(open_folder) in str(caught.value) and "chmod go-w" in str(caught.value)
    assert "access-token-value" in path.read_text()  # not replaced
    with pytest.raises(ConfigurationError, match="not private"):
        TokenFileCredentials(path)
    open_folder.chmod(0o700)
    assert TokenFileCredentials(path).path == path


def test_a_group_writable_folder_of_a_shared_group_is_refused(tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("changing a folder's group to one we are not in needs root")
    folder = tmp_path / "flow"
    folder.mkdir(mode=0o700)
    os.chown(folder, 0, 65534)  # a group that is not the user's private one
    folder.chmod(0o770)
    with pytest.raises(ConfigurationError, match="writable by its group"):
        write_token_file(folder / "api-token", "access-token-value", None)


def test_a_sticky_folder_is_fine_above_but_not_as_the_token_files_own(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: nobody can rename another user's entries
    write_token_file(shared / "mine" / "api-token", "access-token-value", None)
    with pytest.raises(ConfigurationError, match="writable by every user"):
        write_token_file(shared / "api-token", "access-token-value", None)


def test_a_world_writable_token_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "flow" / "api-token"
    write_token_file(path, "access-token-value", None)
    path.chmod(0o666)
    with pytest.raises(ConfigurationError, match="not private"):
        TokenFileCredentials(path)


def test_the_cli_refuses_a_token_file_in_an_open_folder(tmp_path: Path) -> None:
    path = tmp_path / "open" / "api-token"
    write_token_file(path, "access-token-value", None)
    path.parent.chmod(0o777)
    cli = Cli("http://127.0.0.1:9/api", tmp_path / "home")
    result = cli("whoami", env={"FLOW_TOKEN_FILE": str(path)})
    assert result.code == 2, result.stderr  # a usage error, before any request
    assert "not private" in result.stderr and "access-token-value" not in result.stderr
