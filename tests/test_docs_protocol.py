"""docs/protocol.md and the citations of it (#17 item 11): every citation resolves.

The code cites Flow's wire protocol as ``docs/protocol.md §2.2`` (or, until
``scripts/rewrite_citations.py`` runs, as ``contract §2.2`` or a bare ``§2.2``). Every one of
them must name a section the page has; the checker itself is tested on bad references.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "rewrite_citations", ROOT / "scripts/rewrite_citations.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


rc = _load()
PAGE = (ROOT / "docs/protocol.md").read_text(encoding="utf-8")
ANCHORS = rc.protocol_anchors(PAGE)

#: The sections of the research digest the code was first written against: each keeps its
#: number on docs/protocol.md, so rewriting ``contract §X`` is mechanical.
DIGEST_SECTIONS = [
    "0",
    "1", "1.1", "1.2", "1.3",
    "2", "2.1", "2.2", "2.3", "2.4",
    "3", *(f"3.{n}" for n in range(1, 9)),
    "4", *(f"4.{n}" for n in range(1, 9)),
    "5", "5.1", "5.2", "5.3",
    "6", "6.1", "6.2", "6.3",
    "7", "8", "9", *(f"9.{n}" for n in range(1, 8)),
]  # fmt: skip


def test_page_keeps_every_section_and_row_of_the_digest() -> None:
    wanted = {rc.section_anchor(s) for s in DIGEST_SECTIONS}
    wanted |= {rc.section_anchor("8", row) for row in range(1, 32)}
    assert sorted(wanted - ANCHORS) == []


def test_page_anchors_are_unique() -> None:
    ids = [m["id"] for m in rc._HEADING_ID.finditer(PAGE)]
    assert len(ids) == len(set(ids)) > 80


def test_every_citation_in_the_tree_names_an_existing_section() -> None:
    # Citations of the protocol in any form (docs/protocol.md §X, contract §X, bare §X), and
    # the page's own cross-references, must all resolve to a heading of docs/protocol.md.
    problems = rc.check_tree(ROOT, unrewritten=False)
    assert [str(p) for p in problems] == []


def test_the_tree_holds_citations_to_check() -> None:
    # The check above must have something to look at (it would pass on an empty tree).
    counted = 0
    for path in rc.iter_files(ROOT):
        if path.relative_to(ROOT).as_posix() not in rc.SKIP:
            counted += len(rc.find_citations(path.read_text(encoding="utf-8")))
    assert counted > 150


@pytest.mark.parametrize(
    "text",
    [
        "see docs/protocol.md §9.9",
        "# docs/protocol.md §8 row 99",
        "(docs/protocol.md §4.2, §4.99)",
        "docs/protocol.md §3.7-3.9",
        "contract §10.9",
        '"""Bare (§8 rows 33-35)."""',
    ],
)
def test_checker_reports_a_section_the_page_lacks(text: str) -> None:
    problems = rc.problems_in(text, "x.py", ANCHORS, unrewritten=False)
    assert len(problems) == 1
    assert "docs/protocol.md has no #s" in str(problems[0])


@pytest.mark.parametrize(
    "text",
    ["docs/protocol.md §8 row 14", "(docs/protocol.md §2.2, §9.2)", "docs/protocol.md §3.4-3.6"],
)
def test_checker_accepts_existing_sections(text: str) -> None:
    assert rc.problems_in(text, "x.py", ANCHORS) == []


def test_check_mode_lists_what_is_left_to_rewrite() -> None:
    text = "# refresh (contract §2.2)\n# empty page (§8 row 14)"
    problems = rc.problems_in(text, "x.py", ANCHORS)
    assert [(p.line, p.text) for p in problems] == [(1, "§2.2"), (2, "§8 row 14")]


def test_main_check_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/protocol.md").write_text("## §2.2 Refresh {#s2-2}\n", encoding="utf-8")
    module = tmp_path / "m.py"
    module.write_text("# refreshed once (docs/protocol.md §2.2)\n", encoding="utf-8")
    assert rc.main(["--check", "--root", str(tmp_path)]) == 0
    module.write_text("# refreshed once (docs/protocol.md §2.3)\n", encoding="utf-8")
    assert rc.main(["--check", "--root", str(tmp_path)]) == 1
    assert "m.py:1: §2.3: docs/protocol.md has no #s2-3" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("# Contract §3.2: fields first", "# docs/protocol.md §3.2: fields first"),
        ("(contract §4.2, §4.7)", "(docs/protocol.md §4.2, §4.7)"),
        ("(contract §3.4 / §8 row 28)", "(docs/protocol.md §3.4 / §8 row 28)"),
        ("(contract §6.2 shape 5, §8 row 12)", "(docs/protocol.md §6.2 shape 5, §8 row 12)"),
        ("rows (§8 rows 26 and 27)", "rows (docs/protocol.md §8 rows 26 and 27)"),
        ("every shape of §6.2.", "every shape of docs/protocol.md §6.2."),
        ("gets (contract\n    # §2.2, §9.2).", "gets (docs/protocol.md\n    # §2.2, §9.2)."),
        ("HTTP date, RFC 9110 §10.2.3)", "HTTP date, RFC 9110 §10.2.3)"),
        ('"""SKILL.md §8: 401 means"""', '"""SKILL.md §8: 401 means"""'),
        ("(docs/protocol.md §2.2)", "(docs/protocol.md §2.2)"),
        ("the contract's endpoints", "the contract's endpoints"),
    ],
)
def test_rewrite(before: str, after: str) -> None:
    assert rc.rewrite_text(before) == after
    assert rc.rewrite_text(after) == after  # idempotent


def test_rewrap_keeps_python_within_the_line_length() -> None:
    source = (
        "def f() -> int:\n"
        '    """Where a data file can be fetched: its ``download_url``, then the API '
        '(§8 row 20)."""\n'
        "    # The answer also set the flow_refresh_token cookie in the HTTP layer's jar (§2.1);\n"
        "    # the next request sends it.\n"
        "    return 1  # an empty page ends the listing even if ``count`` said more (§8 row 14)\n"
    )
    rewritten, stuck = rc.rewrap_python(rc.rewrite_text(source))
    assert stuck == []
    assert all(len(line) <= rc.LINE_LENGTH for line in rewritten.splitlines())
    ast.parse(rewritten)
    assert rewritten.count("docs/protocol.md §") == 3
    assert "    # (docs/protocol.md §2.1); the next request sends it.\n" in rewritten
    assert rewritten.endswith("said more (docs/protocol.md §8 row 14)\n    return 1\n")
    assert rc.rewrap_python(rc.rewrite_text(rewritten)) == (rewritten, [])
    assert rc.problems_in(rewritten, "x.py", ANCHORS) == []


def test_rewrite_tree_changes_only_what_it_must(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/protocol.md").write_text("Bare (§2.2) stays.\n", encoding="utf-8")
    (tmp_path / "a.py").write_text("# once on 401 (contract §2.2)\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("RFC 9110 §13.1.5 only.\n", encoding="utf-8")
    changed, stuck = rc.rewrite_tree(tmp_path)
    assert (changed, stuck) == (["a.py"], [])
    assert (tmp_path / "a.py").read_text() == "# once on 401 (docs/protocol.md §2.2)\n"
    assert (tmp_path / "docs/protocol.md").read_text() == "Bare (§2.2) stays.\n"
    assert rc.rewrite_tree(tmp_path) == ([], [])


def test_rewrap_leaves_directive_comments_on_their_line() -> None:
    line = "    value = compute()  # type: ignore[arg-type]  # a cast the server forces (§8 row 17)"
    rewritten, stuck = rc.rewrap_python(rc.rewrite_text(f"def f() -> None:\n{line}\n"))
    assert stuck == [2]
    assert "# type: ignore[arg-type]" in rewritten.splitlines()[1]
