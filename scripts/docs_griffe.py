"""Sphinx roles in docstrings become cross-references on the docs site (#17 item 12).

Docstrings say :meth:`AsyncClient.log_in` or :class:`~flowbio_async.FlowError` (readable in
``help()`` and editors); mkdocstrings' Markdown would print the role as text. This griffe
extension, loaded by mkdocstrings (``mkdocs.yml``), rewrites each role once the package is
loaded: the name is resolved the way Sphinx does (the object's own members, then its
parents', then the module's imports) and becomes an optional autorefs link, so a name the
reference documents is a link and any other (a private helper) stays plain code. Code blocks
are left alone; the source files are not changed.

Example:
    ```python
    roles_to_markdown(":class:`~flowbio_async.FlowError`", lambda name: name)
    # '<autoref identifier="flowbio_async.FlowError" optional><code>FlowError</code></autoref>'
    ```
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import griffe

#: ``:role:`target``` or ``:py:role:`target```, ``~`` showing only the last component.
ROLE = re.compile(
    r":(?:py:)?(?P<role>meth|class|func|attr|exc|mod|data|obj|const|type|prop)"
    r":`(?P<tilde>~?)(?P<target>[^`<>]+?)(?:\s*<(?P<explicit>[^`>]+)>)?`"
)
_FENCE = re.compile(r"^\s*(```|~~~)")


def roles_to_markdown(text: str, resolve: Callable[[str], str | None]) -> str:
    """Every role of ``text`` (outside code) as an optional autorefs link.

    ``resolve`` turns a role's target into the identifier of the object it names, or None.
    """
    out: list[str] = []
    fenced = False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            fenced = not fenced
            out.append(line)
        elif fenced or ":`" not in line:
            out.append(line)
        else:
            out.append(_convert_line(line, resolve))
    return "".join(out)


def _convert_line(line: str, resolve: Callable[[str], str | None]) -> str:
    def role(match: re.Match[str]) -> str:
        target = (match["explicit"] or match["target"]).strip().rstrip("()")
        shown = match["target"].strip() if match["explicit"] else target
        if match["tilde"]:
            shown = shown.rsplit(".", 1)[-1]
        code = f"<code>{html.escape(shown)}</code>"
        identifier = resolve(target)
        if identifier is None:
            return f"`{shown}`"
        return f'<autoref identifier="{html.escape(identifier)}" optional>{code}</autoref>'

    return ROLE.sub(role, line)


def resolve_in(obj: griffe.Object, target: str) -> str | None:
    """The path of what ``target`` names, seen from ``obj`` (Sphinx's lookup order)."""
    if target.startswith(("flowbio_async.", "flowbio_sync.")):
        return target
    head, _, rest = target.partition(".")
    scope: griffe.Object | None = obj
    while scope is not None:
        try:
            found = scope.resolve(head)
        except griffe.NameResolutionError:
            scope = scope.parent
            continue
        return f"{found}.{rest}" if rest else found
    return None


def _objects(root: griffe.Object) -> Iterator[griffe.Object]:
    yield root
    for member in root.members.values():
        if isinstance(member, griffe.Alias):
            continue  # documented where it is defined
        yield from _objects(member)


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles of every docstring of a loaded package (see the module doc)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _objects(pkg):
            docstring = obj.docstring
            if docstring is None or ":`" not in docstring.value:
                continue

            def resolve(target: str, scope: griffe.Object = obj) -> str | None:
                return resolve_in(scope, target)

            docstring.value = roles_to_markdown(docstring.value, resolve)
