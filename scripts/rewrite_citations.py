"""Point the code's protocol citations at ``docs/protocol.md`` (#17 item 11).

Comments and docstrings cite sections of Flow's wire protocol as ``contract §2.2`` (a
research digest users cannot open) or as a bare ``(§8 row 14)``. ``docs/protocol.md`` keeps
those section numbers, so the rewrite is mechanical: ``contract §X`` becomes
``docs/protocol.md §X`` and a bare ``§X`` gets the ``docs/protocol.md`` prefix. Sections of
other documents are left alone (``RFC 9110 §10.2.3``, ``SKILL.md §8``), as is a section
listed after another (``§4.2, §4.7``: the first one names the document for both). Python
lines that grow past the line length are re-wrapped within their comment or docstring.
Running it twice changes nothing.

``--check`` changes nothing: it lists every citation still to rewrite and every citation of
a section ``docs/protocol.md`` does not have, and exits 1 when there is any. The docs hook
(``scripts/docs_hooks.py``) and ``tests/test_docs_protocol.py`` use the same grammar.

Example:
    ```console
    $ .venv/bin/python scripts/rewrite_citations.py            # rewrite the tree
    $ make generate                                             # the sync facade's docstrings
    $ .venv/bin/python scripts/rewrite_citations.py --check    # nothing left: exit 0
    ```
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = Path("docs/protocol.md")
PREFIX = "docs/protocol.md"
LINE_LENGTH = 100

#: Never rewritten: the protocol page itself (its bare §X are its own sections), files that
#: quote the grammar as test data, and the generated facade (``make generate`` rewrites it).
SKIP = frozenset(
    {
        "docs/protocol.md",
        "scripts/rewrite_citations.py",
        "scripts/docs_hooks.py",
        "tests/test_docs_protocol.py",
        "tests/test_docs_site.py",
        "flowbio_sync/_generated.py",
    }
)
SKIP_DIRS = frozenset({".git", ".venv", "site", "node_modules", "__pycache__", "build", "dist"})
SUFFIXES = (".py", ".md")

#: One section reference: ``§3.4``, ``§3.4-3.6``, ``§8 row 5``, ``§8 rows 23-25``,
#: ``§8 rows 26 and 27``.
REF = re.compile(
    r"§(?P<sec>\d+(?:\.\d+)*)(?:[-–](?P<to>\d+(?:\.\d+)*))?"
    r"(?:[ \t]+rows?[ \t]+(?P<rows>\d+(?:[ \t]*(?:[-–]|,|and|&)[ \t]*\d+)*))?"
)
#: The word before a reference's ``§`` (skipping brackets, quotes, and one line break with
#: its comment marker) names its document.
_BEFORE = re.compile(
    r"(?P<word>[^\s(\[{\"'`*]+)(?P<gap>[ \t]*(?:\n[ \t]*(?:#+:?[ \t]*)?)?[(\[{\"'`*]*[ \t]*)$"
)
#: Between two references of one list: ``, `` ``/`` ``;`` ``and`` (``§6.2 shape 5, §8 row 12``).
_CHAIN = re.compile(
    r"(?:[ \t]+shape[ \t]+\d+)?(?:[ \t]*\[[^\]\n]*\])?[ \t]*(?:,|/|;|&|\band\b|\bor\b)"
    r"[ \t]*(?:\n[ \t]*(?:#+:?[ \t]*)?)?"
)
_HEADING_ID = re.compile(r"^#{1,6}\s.*\{#(?P<id>s[0-9a-z-]+)\}\s*$", re.MULTILINE)
_FOREIGN_WORD = re.compile(r"(?:\.md|\.txt|\.rst|\.html|\.py)$", re.IGNORECASE)


@dataclass(frozen=True)
class Citation:
    """One ``§`` reference found in a text, and the document it points into.

    ``kind`` is ``"protocol"`` (already ``docs/protocol.md §X``), ``"contract"`` (``contract
    §X``: the word at ``word_start:word_end`` is to become ``docs/protocol.md``), ``"bare"``
    (no document named: ``docs/protocol.md`` is to be inserted at ``start``) or
    ``"foreign"`` (another document's section, never touched).
    """

    start: int
    end: int
    text: str
    kind: str
    word_start: int
    word_end: int
    anchors: tuple[str, ...]


def section_anchor(section: str, row: int | None = None) -> str:
    """The heading id of a section of ``docs/protocol.md``.

    Example:
        ```python
        section_anchor("2.2")      # 's2-2'
        section_anchor("8", 14)    # 's8-row-14'
        ```
    """
    base = "s" + section.replace(".", "-")
    return base if row is None else f"{base}-row-{row}"


def _numbers(spec: str) -> list[int]:
    """``23-25`` → 23, 24, 25; ``26 and 27`` → 26, 27 (a range expands when it is short)."""
    numbers: list[int] = []
    for part in re.split(r"\s*(?:,|and|&)\s*", spec.strip()):
        low, _, high = re.sub(r"\s+", "", part).replace("–", "-").partition("-")
        if high and int(high) >= int(low) and int(high) - int(low) <= 50:
            numbers.extend(range(int(low), int(high) + 1))
        else:
            numbers.append(int(low))
    return numbers


def ref_anchors(match: re.Match[str]) -> tuple[str, ...]:
    """The heading ids a reference needs: ``§3.4-3.6`` needs s3-4, s3-5 and s3-6."""
    section, to, rows = match["sec"], match["to"], match["rows"]
    if rows:
        return tuple(section_anchor(section, row) for row in _numbers(rows))
    if not to:
        return (section_anchor(section),)
    head, _, first = section.rpartition(".")
    to_head, _, last = to.rpartition(".")
    if head == to_head and first.isdigit() and last.isdigit() and int(last) >= int(first):
        parts = range(int(first), int(last) + 1)
        return tuple(section_anchor(f"{head}.{n}" if head else str(n)) for n in parts)
    return (section_anchor(section), section_anchor(to))


def _classify(text: str, start: int) -> tuple[str, int, int]:
    before = _BEFORE.search(text, max(0, start - 200), start)
    if before is None:
        return "bare", start, start
    word = before["word"]
    word_start, word_end = before.start("word"), before.end("word")
    if word.endswith(PREFIX):
        return "protocol", word_end - len(PREFIX), word_end
    if word.lower() == "contract":
        return "contract", word_start, word_end
    rfc = re.search(r"\bRFC[ \t]+$", text[max(0, word_start - 8) : word_start])
    if (word.isdigit() and rfc) or _FOREIGN_WORD.search(word):
        return "foreign", word_start, word_end
    return "bare", start, start


def find_citations(text: str) -> list[Citation]:
    """Every ``§`` reference of ``text``, classified by the document it points into.

    Example:
        ```python
        [c.kind for c in find_citations("contract §4.2, §4.7; RFC 9110 §13.1")]
        # ['contract', 'contract', 'foreign']
        ```
    """
    found: list[Citation] = []
    previous: Citation | None = None
    for match in REF.finditer(text):
        start = match.start()
        if previous is not None and _CHAIN.fullmatch(text, previous.end, start):
            kind, word_start, word_end = previous.kind, previous.word_start, previous.word_end
        else:
            kind, word_start, word_end = _classify(text, start)
        citation = Citation(
            start, match.end(), match[0], kind, word_start, word_end, ref_anchors(match)
        )
        found.append(citation)
        previous = citation
    return found


def protocol_anchors(text: str) -> set[str]:
    """The section ids ``docs/protocol.md`` defines (``{#s2-2}`` on its headings)."""
    return {match["id"] for match in _HEADING_ID.finditer(text)}


def rewrite_text(text: str) -> str:
    """``text`` with every contract or bare citation pointed at ``docs/protocol.md``.

    Example:
        ```python
        rewrite_text("# refresh once on 401 (contract §2.2, §8 row 3)")
        # '# refresh once on 401 (docs/protocol.md §2.2, §8 row 3)'
        ```
    """
    edits: dict[tuple[int, int], str] = {}
    for citation in find_citations(text):
        if citation.kind == "contract":
            edits[(citation.word_start, citation.word_end)] = PREFIX
        elif citation.kind == "bare" and citation.word_start == citation.start:
            edits[(citation.start, citation.start)] = PREFIX + " "
    out: list[str] = []
    position = 0
    for (start, end), replacement in sorted(edits.items()):
        out.append(text[position:start])
        out.append(replacement)
        position = end
    out.append(text[position:])
    return "".join(out)


# -- keeping Python lines within the line length -------------------------------------------
_LIST_ITEM = re.compile(r"^(?:[-*•]|\d+[.)])\s")


def _protected(line: str) -> list[tuple[int, int]]:
    """Spans a line break must not fall into: each citation with its document name."""
    spans: list[tuple[int, int]] = []
    for citation in find_citations(line):
        if citation.kind == "protocol":
            spans.append((citation.word_start, citation.end))
    return spans


def _split(line: str, floor: int, limit: int) -> int | None:
    """Where to break ``line`` (a space between ``floor`` and ``limit``), or None."""
    spans = _protected(line)
    for index in range(min(limit, len(line) - 1), floor, -1):
        if line[index] == " " and not any(a < index < b for a, b in spans):
            return index
    return None


def _line_kinds(source: str) -> dict[int, tuple[str, int, int]]:
    """Row → (``comment`` | ``inline`` | ``docstring`` | ``string``, column, last row)."""
    kinds: dict[int, tuple[str, int, int]] = {}
    lines = source.splitlines()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return kinds
    for token in tokens:
        (row, col), (end_row, _) = token.start, token.end
        if token.type == tokenize.COMMENT:
            code_before = lines[row - 1][:col].strip()
            kinds[row] = ("inline" if code_before else "comment", col, row)
        elif token.type == tokenize.STRING:
            triple = re.match(r"^[rRbBuUfF]{0,2}(\"\"\"|''')", token.string) is not None
            for each in range(row, end_row + 1):
                kinds.setdefault(each, ("docstring" if triple else "string", col, end_row))
    return kinds


def _continues(line: str, prefix: str) -> bool:
    if not line.startswith(prefix):
        return False
    rest = line[len(prefix) :]
    if not rest.strip() or rest[0].isspace() or _LIST_ITEM.match(rest):
        return False
    return not rest.startswith(("```", '"""', "'''", "Example:", "Args:", "Returns:"))


def _cascade(lines: list[str], index: int, prefix: str, limit: int, last: int | None) -> bool:
    """Break ``lines[index]``, carrying the overflow into the lines it continues into.

    ``last`` is the index of the last line the text may flow into (a docstring's closing
    line); ``None`` for comments, whose prefix already says which lines belong to them.
    """
    line = lines[index]
    while len(line) > limit:
        cut = _split(line, len(prefix), limit)
        if cut is None:
            return False
        lines[index], carry = line[:cut].rstrip(), line[cut + 1 :]
        following = index + 1
        inside = last is None or following <= last
        if following < len(lines) and inside and _continues(lines[following], prefix):
            line = prefix + carry + " " + lines[following][len(prefix) :]
            index = following
            lines[index] = line
        else:
            lines.insert(following, prefix + carry)
            index, line = following, prefix + carry
            last = None if last is None else last + 1
    return True


def _fix_line(lines: list[str], row: int, kind: tuple[str, int, int], limit: int) -> bool:
    index = row - 1
    line = lines[index]
    name, col, end_row = kind
    if name == "comment":
        marker = re.match(r"^(\s*#+:?\s?)", line)
        return marker is not None and _cascade(lines, index, marker[1], limit, None)
    if name == "inline":
        code, comment = line[:col].rstrip(), line[col:].lstrip("#").strip()
        if re.search(r"\b(?:noqa|type:\s*ignore|pragma|fmt:)", comment):
            return False  # a directive must stay on its line: left for a hand to wrap
        indent = re.match(r"^\s*", line)
        prefix = (indent[0] if indent else "") + "# "
        lines[index : index + 1] = [prefix + comment, code]
        return _cascade(lines, index, prefix, limit, None)
    if name == "docstring":
        indent = re.match(r"^\s*", line)
        depth = max(col, len(indent[0]) if indent else 0)
        return _cascade(lines, index, " " * depth, limit, end_row - 1)
    return False


def rewrap_python(source: str, limit: int = LINE_LENGTH) -> tuple[str, list[int]]:
    """Re-wrap the lines the rewrite made too long; also the rows it could not fix."""
    stuck: set[str] = set()
    while True:
        lines = source.split("\n")
        kinds = _line_kinds(source)
        rows = [
            number
            for number, line in enumerate(lines, 1)
            if len(line) > limit and PREFIX in line and line not in stuck
        ]
        if not rows:
            break
        row = rows[0]
        if _fix_line(lines, row, kinds.get(row, ("code", 0, row)), limit):
            source = "\n".join(lines)
        else:
            stuck.add(source.split("\n")[row - 1])
    lines = source.split("\n")
    return source, [number for number, line in enumerate(lines, 1) if line in stuck]


# -- the tree ------------------------------------------------------------------------------
def iter_files(root: Path, paths: Iterable[Path] = ()) -> Iterator[Path]:
    """The ``.py`` and ``.md`` files under ``root`` (or ``paths``) that may hold citations."""
    bases = [root / path for path in paths] or [root]
    for base in bases:
        candidates = [base] if base.is_file() else sorted(base.rglob("*"))
        for path in candidates:
            relative = path.relative_to(root)
            if any(part in SKIP_DIRS for part in relative.parts):
                continue
            if path.is_file() and path.suffix in SUFFIXES:
                yield path


@dataclass(frozen=True)
class Problem:
    """A citation still to rewrite, or one naming a section the protocol page lacks."""

    path: str
    line: int
    text: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}: {self.message}"


def problems_in(
    text: str, path: str, anchors: set[str], *, unrewritten: bool = True
) -> list[Problem]:
    """What ``--check`` reports for one file's text."""
    found: list[Problem] = []
    own_page = path == PROTOCOL.as_posix()
    for citation in find_citations(text):
        if citation.kind == "foreign":
            continue
        line = text.count("\n", 0, citation.start) + 1
        if unrewritten and not own_page and citation.kind in ("contract", "bare"):
            found.append(Problem(path, line, citation.text, f"not yet {PREFIX} §…"))
        missing = [anchor for anchor in citation.anchors if anchor not in anchors]
        if missing:
            names = ", ".join("#" + anchor for anchor in missing)
            found.append(Problem(path, line, citation.text, f"{PROTOCOL} has no {names}"))
    return found


def check_tree(root: Path, *, unrewritten: bool = True) -> list[Problem]:
    """Every problem of the tree (``unrewritten=False``: only unknown sections)."""
    anchors = protocol_anchors((root / PROTOCOL).read_text(encoding="utf-8"))
    found: list[Problem] = []
    for path in iter_files(root):
        relative = path.relative_to(root).as_posix()
        if relative in SKIP and relative != PROTOCOL.as_posix():
            continue
        text = path.read_text(encoding="utf-8")
        found.extend(problems_in(text, relative, anchors, unrewritten=unrewritten))
    return found


def rewrite_tree(root: Path, paths: Iterable[Path] = ()) -> tuple[list[str], list[str]]:
    """Rewrite every file; the files changed, and lines left too long (``path:row``)."""
    changed: list[str] = []
    long_lines: list[str] = []
    for path in iter_files(root, paths):
        relative = path.relative_to(root).as_posix()
        if relative in SKIP:
            continue
        before = path.read_text(encoding="utf-8")
        after = rewrite_text(before)
        if path.suffix == ".py" and after != before:
            after, stuck = rewrap_python(after)
            long_lines.extend(f"{relative}:{row}" for row in stuck)
        if after != before:
            path.write_text(after, encoding="utf-8")
            changed.append(relative)
    return changed, long_lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; list problems")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    parser.add_argument("paths", nargs="*", type=Path, help="only these files or folders")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.check:
        found = check_tree(root)
        for problem in found:
            print(problem)
        print(f"{len(found)} problem(s)", file=sys.stderr)
        return 1 if found else 0
    changed, long_lines = rewrite_tree(root, args.paths)
    for relative in changed:
        print(f"rewrote {relative}")
    for where in long_lines:
        print(f"{where}: still longer than {LINE_LENGTH} characters; wrap it by hand")
    if changed:
        print("now run `make generate` (the sync facade copies the docstrings)", file=sys.stderr)
    return 1 if long_lines else 0


if __name__ == "__main__":
    raise SystemExit(main())
