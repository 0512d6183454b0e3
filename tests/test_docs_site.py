"""The docs site as a newcomer sees it (#17 item 12): home page, reference, links, roles.

``make docs`` builds the site with ``--strict``; these tests pin what the build cannot see:
the home page reaches every page, the reference documents every public name, and the two
render-time helpers (``scripts/docs_hooks.py``, ``scripts/docs_griffe.py``) turn citations
and Sphinx roles into links without touching code.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import re
import sys
import typing
from pathlib import Path
from types import ModuleType
from typing import Any

import griffe
import pytest
import yaml

import flowbio_async
import flowbio_async.testing
import flowbio_sync
from flowbio_async._resources._base import Resource

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


hooks = _load("docs_hooks")
roles = _load("docs_griffe")


def _nav_files(items: list[Any]) -> list[str]:
    found: list[str] = []
    for item in items:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        found.extend(_nav_files(value) if isinstance(value, list) else [value])
    return found


CONFIG = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
NAV = _nav_files(CONFIG["nav"])
REFERENCE = "\n".join(p.read_text(encoding="utf-8") for p in (DOCS / "reference").glob("*.md"))


def test_every_docs_page_is_in_the_nav() -> None:
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    assert sorted(NAV) == pages


def test_home_page_links_every_page() -> None:
    home = (DOCS / "index.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([^)#]+\.md)", home))
    wanted = {page for page in NAV if page != "index.md" and not page.startswith("reference/")}
    assert sorted(wanted - linked) == []


def test_home_page_shows_the_workflow_the_comparison_and_the_two_commands() -> None:
    home = (DOCS / "index.md").read_text(encoding="utf-8")
    for step in ("upload_sample", "pipelines.run", "executions.wait", "download_outputs"):
        assert step in home
    assert "| | flowbio 0.14.1 | flowbio-async |" in home
    assert "make demo" in home and "make test" in home and "pip install" in home


def test_reference_overview_links_every_reference_page() -> None:
    overview = (DOCS / "reference.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\((reference/[^)#]+\.md)", overview))
    assert sorted({p for p in NAV if p.startswith("reference/")} - linked) == []


def _documented(path: str) -> bool:
    return re.search(rf"^::: {re.escape(path)}\s*$", REFERENCE, re.MULTILINE) is not None


def test_reference_documents_every_public_name() -> None:
    missing = [
        n
        for n in flowbio_async.__all__
        if n != "__version__" and not _documented(f"flowbio_async.{n}")
    ]
    own_sync = [n for n in flowbio_sync.__all__ if not hasattr(flowbio_async, n)]
    missing += [n for n in own_sync if not _documented(f"flowbio_sync.{n}")]
    names = flowbio_async.testing.__all__
    missing += [n for n in names if not _documented(f"flowbio_async.testing.{n}")]
    assert missing == []


def test_reference_documents_every_area_of_the_client() -> None:
    areas = [
        name
        for name, member in inspect.getmembers(flowbio_async.AsyncClient)
        if isinstance(member, property)
        and member.fget is not None
        and issubclass(_returned(member.fget), Resource)
    ]
    assert len(areas) >= 9
    missing = [name for name in areas if f'heading: "client.{name}"' not in REFERENCE]
    assert missing == []


def _returned(function: Any) -> type:
    returned = typing.get_type_hints(function).get("return")
    return returned if inspect.isclass(returned) else object


# -- scripts/docs_hooks.py: citations become links ------------------------------------------
ANCHORS = {"s2-2", "s4-2", "s4-7", "s8-row-14", "s8-row-26", "s8-row-27"}


@pytest.mark.parametrize(
    ("html", "linked"),
    [
        ("<p>once (contract §2.2)</p>", '<p>once (<a href="P#s2-2">protocol §2.2</a>)</p>'),
        (
            "<p>(docs/protocol.md §4.2, §4.7)</p>",
            '<p>(<a href="P#s4-2">protocol §4.2</a>, <a href="P#s4-7">§4.7</a>)</p>',
        ),
        (
            "<p>empty page (§8 row 14)</p>",
            '<p>empty page (<a href="P#s8-row-14">§8 row 14</a>)</p>',
        ),
        (
            "<li>contract §8 rows 26 and 27.</li>",
            '<li><a href="P#s8-row-26">protocol §8 rows 26 and 27</a>.</li>',
        ),
        ("<p>RFC 9110 §13.1.5</p>", "<p>RFC 9110 §13.1.5</p>"),
        ("<code>contract §2.2</code>", "<code>contract §2.2</code>"),
        ("<pre><code>x = 1  # §2.2\n</code></pre>", "<pre><code>x = 1  # §2.2\n</code></pre>"),
        ('<h2 id="s2-2">§2.2 Refresh</h2>', '<h2 id="s2-2">§2.2 Refresh</h2>'),
        ('<a href="x">contract §2.2</a>', '<a href="x">contract §2.2</a>'),
    ],
)
def test_linkify(html: str, linked: str) -> None:
    assert hooks.linkify(html, "P", ANCHORS) == linked


def test_linkify_warns_on_a_section_the_page_lacks(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mkdocs.hooks.flowbio_docs"):
        hooks.linkify("<p>see contract §9.9</p>", "P", ANCHORS, "x.md")
    assert "x.md: §9.9 names no section of docs/protocol.md" in caplog.text


# -- scripts/docs_griffe.py: Sphinx roles become cross-references ---------------------------
def test_roles_become_optional_autorefs() -> None:
    text = (
        "Pass one to :meth:`AsyncClient.log_in`; see :class:`~flowbio_async.FlowError`"
        " and :func:`private_helper`.\n\n```python\n:meth:`untouched`\n```\n"
    )
    known = {"AsyncClient.log_in": "flowbio_async._client.AsyncClient.log_in"}
    converted = roles.roles_to_markdown(
        text, lambda name: known.get(name, name if name.startswith("flowbio") else None)
    )
    assert (
        'Pass one to <autoref identifier="flowbio_async._client.AsyncClient.log_in" optional>'
        "<code>AsyncClient.log_in</code></autoref>" in converted
    )
    assert (
        '<autoref identifier="flowbio_async.FlowError" optional><code>FlowError</code></autoref>'
        in converted
    )
    assert "and `private_helper`." in converted
    assert "```python\n:meth:`untouched`\n```" in converted


def test_roles_resolve_like_sphinx_from_the_loaded_package() -> None:
    package = griffe.load("flowbio_async", resolve_aliases=False)
    credentials = package["_auth.Credentials"]
    assert roles.resolve_in(credentials, "AsyncClient.log_in") == (
        "flowbio_async._client.AsyncClient.log_in"
    )
    assert roles.resolve_in(credentials, "no_such_name") is None
    roles.SphinxRoles().on_package(pkg=package, loader=None)
    assert ":meth:" not in (credentials.docstring.value if credentials.docstring else ":meth:")
