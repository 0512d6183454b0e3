"""``api get|post|patch|put|delete PATH``: raw requests from the shell (#11).

Following the official 0.14.1 CLI (``flowbio/cli/_api.py``): the answer's body goes to
stdout verbatim (pipe it to ``jq``; ``--json`` does not reshape it), query parameters are
``--param KEY=VALUE`` (a ``?`` in the path is refused), ``get`` reads anonymously when no
token is configured, writes always need credentials. A write's JSON body comes from
``--body FILE`` or ``--body -`` (stdin), as the official CLI takes it, or inline with
``--data JSON``; it is sent unchanged for the server to validate. ``put`` and ``delete`` are
ours (the official CLI has none); ``delete`` takes an optional body. Errors use the usual
exit codes: 3 authentication, 4 not found, 5 bad request, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flowbio_async._cli._command import Invocation, Verbs
from flowbio_async._cli._credentials import Auth
from flowbio_async._cli._exit import CliUsageError

WRITES = ("post", "patch", "put", "delete")


def register(verbs: Verbs) -> None:
    """Add the ``api`` group."""
    api = verbs.group("api", "raw requests to any API path (body to stdout)")
    get = api.add(
        "get",
        _send,
        "GET a path and print the raw answer",
        "GET a path under the API base URL and write the answer's body to stdout unchanged. "
        "Uses a token when one is configured, else reads anonymously.",
        auth=Auth.OPTIONAL,
    )
    _path_and_params(get)
    for method in WRITES:
        verb = api.add(
            method,
            _send,
            f"{method.upper()} a JSON body to a path and print the raw answer",
            f"{method.upper()} a JSON document, sent unchanged, to a path under the API base "
            "URL and write the answer's body to stdout. Needs credentials.",
        )
        _path_and_params(verb)
        body = verb.add_mutually_exclusive_group(required=method in {"post", "patch", "put"})
        body.add_argument(
            "--body", metavar="FILE|-", help="file holding the JSON body, - for stdin"
        )
        body.add_argument("--data", metavar="JSON", help="the JSON body itself")


def _path_and_params(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="path under the base URL, e.g. /me")
    parser.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="query parameter"
    )


def _params(pairs: list[str]) -> list[tuple[str, str]]:
    params = []
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise CliUsageError(f"--param must be KEY=VALUE, got {pair!r}")
        params.append((key, value))
    return params


def _body(args: argparse.Namespace) -> bytes | None:
    data = getattr(args, "data", None)
    source = getattr(args, "body", None)
    if data is not None:
        return str(data).encode()
    if source is None:
        return None
    if source == "-":
        return sys.stdin.buffer.read()
    path = Path(source)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CliUsageError(f"cannot read the body file {path}: {exc.strerror or exc}") from None


async def _send(inv: Invocation) -> int:
    args = inv.args
    if "?" in args.path:
        raise CliUsageError("query parameters go in --param KEY=VALUE, not in the path")
    params = _params(args.param)
    method = args.api_verb
    client = inv.client
    if method == "get":
        text = await client.get_raw(args.path, params)
    elif method == "delete":
        text = await client.delete_raw(args.path, params, _body(args))
    else:
        body = _body(args)
        assert body is not None  # argparse requires one for post/patch/put
        send = {"post": client.post_raw, "patch": client.patch_raw, "put": client.put_raw}
        text = await send[method](args.path, body, params)
    inv.output.stdout.write(text)
    inv.output.stdout.flush()
    return 0
