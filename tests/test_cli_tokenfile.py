"""The token file: both formats read by the library, written 0600 by the CLI (#6)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from flowbio_async import ConfigurationError
from flowbio_async._auth import TokenFileCredentials, parse_token_file
from flowbio_async._cli._tokenfile import remove_token_file, token_file_path, write_token_file


def test_bare_token_of_the_official_cli() -> None:
    assert parse_token_file("abc.def.ghi\n", "f") == ("abc.def.ghi", None)
    assert parse_token_file("Bearer abc\n", "f") == ("abc", None)


def test_json_document_with_refresh_token() -> None:
    text = json.dumps({"token": "a.b.c", "refresh_token": "r.s.t"})
    assert parse_token_file(text, "f") == ("a.b.c", "r.s.t")
    assert parse_token_file('{"token": "a.b.c"}', "f") == ("a.b.c", None)


@pytest.mark.parametrize(
    "text",
    ['{"token": ', '{"token": null}', '{"refresh_token": "r"}', '{"token": 5}',
     '{"token": "a", "refresh_token": 7}', '{"token": "two words"}', "", "   \n"],
)  # fmt: skip
def test_malformed_files_are_configuration_errors(text: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_token_file(text, "token file X")
    assert "token file X" in str(raised.value)


def test_credentials_never_show_the_tokens(tmp_path: Path) -> None:
    path = tmp_path / "api-token"
    write_token_file(path, "secret.access.token", "secret.refresh.token")
    credentials = TokenFileCredentials(path)
    assert "secret" not in repr(credentials)


def test_written_with_0600_in_a_0700_directory_and_replaced_atomically(tmp_path: Path) -> None:
    path = tmp_path / "config" / "flow" / "api-token"
    old_umask = os.umask(0)  # even a permissive umask must not widen the modes
    try:
        write_token_file(path, "t1", "r1")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {"token": "t1", "refresh_token": "r1"}
    write_token_file(path, "t2", None)
    assert json.loads(path.read_text()) == {"token": "t2"}
    assert [p.name for p in path.parent.iterdir()] == ["api-token"]  # no temporary left
    assert remove_token_file(path) is True
    assert remove_token_file(path) is False


def test_path_precedence(tmp_path: Path) -> None:
    explicit = tmp_path / "explicit"
    assert token_file_path(explicit, {"FLOW_TOKEN_FILE": "/elsewhere"}) == explicit
    assert token_file_path(None, {"FLOW_TOKEN_FILE": str(tmp_path / "env")}) == tmp_path / "env"
    assert token_file_path(None, {}) == Path("~/.config/flow/api-token").expanduser()
