"""ClientConfig: the official positional order, and every field checked when it is built (#17)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import pytest

from flowbio_async import AsyncClient, ClientConfig, ConfigurationError
from flowbio_async.testing import FlowServer


def test_the_official_positional_order_ports_unchanged() -> None:
    # Seen (#17): ClientConfig(2_000_000, False, 2, timedelta(seconds=30), 5) raised TypeError.
    config = ClientConfig(2_000_000, False, 2, timedelta(seconds=30), 5)
    assert (config.chunk_size, config.show_progress, config.connection_retries) == (
        2_000_000,
        False,
        2,
    )
    assert (config.request_timeout, config.upload_retries) == (timedelta(seconds=30), 5)


def test_our_fields_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        ClientConfig(1_000_000, True, 3, timedelta(seconds=60), 3, timedelta(seconds=5))  # type: ignore[misc]
    assert ClientConfig(max_concurrency=4).max_concurrency == 4


@pytest.mark.parametrize("seconds", [30, 2.5])
def test_timeouts_take_seconds_and_are_stored_as_timedelta(seconds: float) -> None:
    config = ClientConfig(request_timeout=seconds, connect_timeout=seconds)  # type: ignore[arg-type]
    assert config.request_timeout == timedelta(seconds=seconds)
    assert config.connect_timeout == timedelta(seconds=seconds)


@pytest.mark.anyio
async def test_a_timeout_in_seconds_works_for_real_requests(flow_server: FlowServer) -> None:
    # Seen (#17): request_timeout=30 was accepted, then the first request crashed with
    # AttributeError: 'int' object has no attribute 'total_seconds'.
    config = ClientConfig(show_progress=False, request_timeout=30)  # type: ignore[arg-type]
    async with AsyncClient(flow_server.url, config) as client:
        types = await client.samples.get_types()
    assert types


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("show_progress", "no", "show_progress must be True or False, got 'no' (str)"),
        ("chunk_size", "1000000", "chunk_size must be an int, got '1000000' (str)"),
        ("chunk_size", True, "chunk_size must be an int, got True (bool)"),
        ("connection_retries", 2.0, "connection_retries must be an int, got 2.0 (float)"),
        ("request_timeout", "30", "request_timeout must be a timedelta or a number of seconds"),
        ("request_timeout", 0, "request_timeout must be more than 0 seconds, got 0 seconds"),
        ("request_timeout", timedelta(seconds=-1), "request_timeout must be more than 0"),
        ("connect_timeout", True, "connect_timeout must be a timedelta or a number of seconds"),
        ("chunk_size", 0, "chunk_size must be at least 1, got 0"),
        ("upload_retries", -1, "upload_retries must be at least 0, got -1"),
        ("max_concurrency", 0, "max_concurrency must be at least 1, got 0"),
        ("download_buffer_size", 1024, "download_buffer_size must be at least 65536"),
        ("backoff_initial", float("nan"), "backoff_initial must be a number, got nan"),
        ("backoff_max", -0.5, "backoff_max must be at least 0, got -0.5"),
        ("bulk_poll_interval", 0, "bulk_poll_interval must be more than 0, got 0"),
        ("verify", 1, "verify must be True or False or a str, got 1 (int)"),
        ("files_url", 5, "files_url must be a str or None, got 5 (int)"),
        ("state_dir", 3, "state_dir must be a path, got 3 (int)"),
    ],
)
def test_bad_values_name_the_field_and_the_value(field: str, value: Any, words: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ClientConfig(**{field: value})
    assert words in str(caught.value)


def test_a_numeric_string_gets_a_hint_how_to_write_it() -> None:
    with pytest.raises(ConfigurationError, match=r"write chunk_size=1000000"):
        ClientConfig(chunk_size="1000000")  # type: ignore[arg-type]


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(ClientConfig)])
def test_every_field_refuses_a_value_of_the_wrong_type(field: str) -> None:
    # Driven by the annotations: a field added later is covered without a new rule.
    with pytest.raises(ConfigurationError) as caught:
        ClientConfig(**{field: object()})
    assert str(caught.value).startswith(f"{field} must be")
    assert "(object)" in str(caught.value)


def test_defaults_and_replace_pass_the_same_checks(tmp_path: Path) -> None:
    config = ClientConfig()
    assert dataclasses.replace(config, chunk_size=2_000_000).chunk_size == 2_000_000
    with pytest.raises(ConfigurationError, match="show_progress"):
        dataclasses.replace(config, show_progress="yes")  # type: ignore[arg-type]
    assert ClientConfig(state_dir=str(tmp_path)).state_dir == tmp_path  # type: ignore[arg-type]
    assert ClientConfig(verify=tmp_path / "ca.pem").verify == str(tmp_path / "ca.pem")  # type: ignore[arg-type]
    assert ClientConfig(files_url=None).files_url is None


def test_chunk_size_above_max_chunk_size_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"chunk_size \(2000\) exceeds max_chunk_size"):
        ClientConfig(chunk_size=2000, max_chunk_size=1000)


@dataclasses.dataclass(frozen=True)
class _Later(ClientConfig):
    """Fields of the kinds a later change may add (an engine choice, an optional limit)."""

    engine: Literal["httpx", "aiohttp"] = "httpx"
    keepalive: int | None = None


def test_fields_added_later_are_checked_from_their_annotations() -> None:
    assert _Later(engine="aiohttp", keepalive=5).keepalive == 5
    with pytest.raises(ConfigurationError, match="engine must be one of 'httpx', 'aiohttp'"):
        _Later(engine="curl")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="keepalive must be at least 0, got -1"):
        _Later(keepalive=-1)
    with pytest.raises(ConfigurationError, match=r"keepalive must be an int or None, got '5'"):
        _Later(keepalive="5")  # type: ignore[arg-type]
