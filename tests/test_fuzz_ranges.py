"""Fuzzing byte ranges: Range/Content-Range parsing and the part file's interval arithmetic.

A wrong parse here would put bytes at the wrong offset of a part file (issue #7), so the
properties are strict: never raise on server text, never accept an impossible range, and
intervals always describe exactly the bytes that were written.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowbio_async._transfers._partfile import add_interval, missing_intervals
from flowbio_async._transfers._ranges import parse_content_range, range_header

offsets = st.integers(min_value=0, max_value=2**53)


@settings(deadline=None)  # no timing under a loaded CI machine
@given(st.text(max_size=60))
def test_any_text_parses_to_none_or_a_consistent_range(text: str) -> None:
    parsed = parse_content_range(text)
    if parsed is None:
        return
    if parsed.start is None:
        assert parsed.end is None and parsed.total is not None  # only "bytes */N"
        return
    assert parsed.end is not None and parsed.start <= parsed.end
    assert parsed.total is None or parsed.end < parsed.total


@settings(deadline=None)  # no timing under a loaded CI machine
@given(st.from_regex(r"\A\s*[bB][yY][tT][eE][sS]\s+(\d{1,20}-\d{1,20}|\*)/(\d{1,20}|\*)\s*\Z"))
def test_header_shaped_noise_never_raises(text: str) -> None:
    parsed = parse_content_range(text)
    assert parsed is None or parsed.start is None or parsed.start <= (parsed.end or 0)


@settings(deadline=None)  # no timing under a loaded CI machine
@given(start=offsets, length=st.integers(min_value=1, max_value=2**40), extra=offsets)
def test_content_range_round_trip(start: int, length: int, extra: int) -> None:
    end = start + length - 1
    total = end + 1 + extra
    parsed = parse_content_range(f"bytes {start}-{end}/{total}")
    assert parsed is not None and (parsed.start, parsed.end, parsed.total) == (start, end, total)
    assert parse_content_range(f"bytes {start}-{end}/*") is not None
    assert parse_content_range(f"bytes {start}-{end}/{end}") is None  # end beyond the total


@settings(deadline=None)  # no timing under a loaded CI machine
@given(start=offsets, length=st.none() | st.integers(min_value=1, max_value=2**40))
def test_range_header_asks_for_exactly_the_interval(start: int, length: int | None) -> None:
    end = None if length is None else start + length
    value = range_header(start, end)
    first, _, last = value.removeprefix("bytes=").partition("-")
    assert int(first) == start
    assert (last == "") if end is None else (int(last) == end - 1)


@settings(deadline=None)  # no timing under a loaded CI machine
@given(start=offsets, end=offsets)
def test_range_header_refuses_empty_or_reversed_ranges(start: int, end: int) -> None:
    if end > start:
        return
    with pytest.raises(ValueError):
        range_header(start, end)


spans = st.lists(
    st.tuples(st.integers(0, 300), st.integers(0, 300)).map(lambda t: (min(t), max(t))),
    max_size=12,
)


@settings(deadline=None)  # no timing under a loaded CI machine
@given(spans=spans, total=st.integers(0, 320))
def test_intervals_cover_exactly_the_written_bytes(
    spans: list[tuple[int, int]], total: int
) -> None:
    done: list[tuple[int, int]] = []
    written: set[int] = set()
    for lo, hi in spans:
        done = add_interval(done, lo, hi)
        written.update(range(lo, hi))
    covered = {i for lo, hi in done for i in range(lo, hi)}
    assert covered == written
    assert all(a[1] < b[0] for a, b in itertools.pairwise(done))  # sorted, merged
    gaps = missing_intervals(done, total)
    missing = {i for lo, hi in gaps for i in range(lo, hi)}
    assert missing == set(range(total)) - written
    assert all(lo < hi <= total for lo, hi in gaps)
