"""mkdocs hooks: protocol citations become links to docs/protocol.md (#17 item 12).

Pages, the changelog and the API reference's docstrings cite Flow's wire protocol as
``docs/protocol.md §2.2`` (or, until ``scripts/rewrite_citations.py`` has run, as ``contract
§2.2`` or a bare ``§8 row 14``). Once a page is rendered, each such citation outside code,
links and headings becomes a link to that section of the protocol page, reading
``protocol §2.2``; a section the page lacks is a build warning, so ``mkdocs build --strict``
fails on it. The citation grammar is ``rewrite_citations``'s, shared with its checks.

Example:
    ```python
    linkify("<p>refreshed once (contract §2.2)</p>", "../protocol/", {"s2-2"})
    # '<p>refreshed once (<a href="../protocol/#s2-2">protocol §2.2</a>)</p>'
    ```
"""

from __future__ import annotations

import html as html_lib
import importlib.util
import logging
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

log = logging.getLogger("mkdocs.hooks.flowbio_docs")

#: Text inside these elements is never turned into a link.
SKIPPED = frozenset({"a", "code", "pre", "script", "style", "h1", "h2", "h3", "h4", "h5", "h6"})
_TAG = re.compile(r"(<[^>]*>)")
_TAG_NAME = re.compile(r"^<(/?)([a-zA-Z][a-zA-Z0-9]*)")


def _load_grammar() -> ModuleType:
    path = Path(__file__).with_name("rewrite_citations.py")
    spec = importlib.util.spec_from_file_location("rewrite_citations", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


citations = _load_grammar()
_anchors: set[str] = set()


def linkify(html: str, protocol_url: str, anchors: set[str], where: str = "") -> str:
    """``html`` with its protocol citations as links to ``protocol_url#<section>``."""
    out: list[str] = []
    skipped = 0
    for piece in _TAG.split(html):
        tag = _TAG_NAME.match(piece)
        if tag is not None:
            closing, name = tag[1] == "/", tag[2].lower()
            if name in SKIPPED and not piece.endswith("/>"):
                skipped += -1 if closing else 1
            out.append(piece)
        elif skipped <= 0 and "§" in piece:
            out.append(_link_text(piece, protocol_url, anchors, where))
        else:
            out.append(piece)
    return "".join(out)


def _link_text(text: str, protocol_url: str, anchors: set[str], where: str) -> str:
    out: list[str] = []
    position = 0
    previous_word: int | None = None
    for citation in citations.find_citations(text):
        if citation.kind == "foreign":
            continue
        missing = [anchor for anchor in citation.anchors if anchor not in anchors]
        if missing:
            log.warning("%s: %s names no section of docs/protocol.md", where, citation.text)
        head = citation.kind != "bare" and citation.word_start != previous_word
        previous_word = citation.word_start
        start = citation.word_start if head else citation.start
        shown = f"protocol {citation.text}" if head else citation.text
        href = f"{protocol_url}#{citation.anchors[0]}"
        out.append(text[position:start])
        out.append(f'<a href="{html_lib.escape(href)}">{shown}</a>')
        position = citation.end
    out.append(text[position:])
    return "".join(out)


def on_config(config: MkDocsConfig, **kwargs: Any) -> MkDocsConfig:
    page = Path(config.docs_dir) / "protocol.md"
    _anchors.clear()
    _anchors.update(citations.protocol_anchors(page.read_text(encoding="utf-8")))
    return config


def on_page_content(
    html: str, page: Page, config: MkDocsConfig, files: Files, **kwargs: Any
) -> str:
    protocol = files.get_file_from_path("protocol.md")
    if protocol is None:
        return html
    url = get_relative_url(protocol.url, page.url) if page.file is not protocol else ""
    return linkify(html, url, _anchors, page.file.src_uri)
