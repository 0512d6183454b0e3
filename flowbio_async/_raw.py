"""Raw requests: any method to any path of the API, for what the SDK has no method for (#11).

Mirrors the official client's escape hatches (flowbio 0.14.1 ``Client.get_raw(path,
params)``, ``post_raw(path, body)`` and ``patch_raw(path, body)``: the body is a JSON
document sent byte for byte with ``Content-Type: application/json``, the answer's text comes
back) and adds ``put_raw``/``delete_raw`` and ``*_json`` forms that encode and decode JSON.
Every call goes through the HTTP layer like the SDK's own requests: the same token and
refresh on 401, the same typed errors. Only idempotent methods (GET, PUT, DELETE) are retried
after a 429/5xx or a dropped connection; a POST or PATCH that may have reached the server is
never sent twice (a connection that was never established is retried for every method).
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowbio_async._errors import ConfigurationError

if TYPE_CHECKING:
    from flowbio_async._http import HttpClient, QueryParams, Response

JSON_TYPE = "application/json"
_IDEMPOTENT = {"GET": None, "PUT": None, "DELETE": None, "POST": False, "PATCH": False}


class RawRequests:
    """Raw request methods of :class:`~flowbio_async.AsyncClient` (a mixin)."""

    _http: HttpClient

    async def get_raw(self, path: str, params: QueryParams | None = None) -> str:
        """GET any path under the base URL and return the body text (like flowbio ``get_raw``).

        Example:
            ```python
            print(await client.get_raw("samples/types"))
            ```
        """
        return (await self._send("GET", path, params=params)).text

    async def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET any path under the base URL and return the decoded JSON body.

        Example:
            ```python
            me = await client.get_json("me")
            ```
        """
        return _decoded(await self._send("GET", path, params=params))

    async def post_raw(
        self, path: str, body: bytes | str, params: QueryParams | None = None
    ) -> str:
        """POST a JSON document, sent unchanged, and return the answer's text (flowbio's
        ``post_raw``). Never retried once it may have reached the server.

        Example:
            ```python
            text = await client.post_raw("downloads", b'{"data_ids": ["42"]}')
            ```
        """
        return (await self._send("POST", path, params=params, body=body)).text

    async def patch_raw(
        self, path: str, body: bytes | str, params: QueryParams | None = None
    ) -> str:
        """PATCH with a JSON document, sent unchanged; returns the answer's text (flowbio's
        ``patch_raw``). Never retried once it may have reached the server.

        Example:
            ```python
            text = await client.patch_raw("v2/projects/7", '{"name": "Liver 2"}')
            ```
        """
        return (await self._send("PATCH", path, params=params, body=body)).text

    async def put_raw(self, path: str, body: bytes | str, params: QueryParams | None = None) -> str:
        """PUT a JSON document, sent unchanged; returns the answer's text (retried like a GET:
        PUT is idempotent).

        Example:
            ```python
            text = await client.put_raw("v2/projects/7/tags", b'["liver"]')
            ```
        """
        return (await self._send("PUT", path, params=params, body=body)).text

    async def delete_raw(
        self, path: str, params: QueryParams | None = None, body: bytes | str | None = None
    ) -> str:
        """DELETE any path (optionally with a JSON body); returns the answer's text.

        Example:
            ```python
            await client.delete_raw("v2/projects/7")
            ```
        """
        return (await self._send("DELETE", path, params=params, body=body)).text

    async def post_json(
        self, path: str, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        """POST ``body`` encoded as JSON and return the decoded answer (``None`` when empty).

        Example:
            ```python
            job = await client.post_json("downloads", {"data_ids": ["42"]})
            ```
        """
        return _decoded(await self._send("POST", path, params=params, body=_encoded(body)))

    async def patch_json(
        self, path: str, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        """PATCH with ``body`` encoded as JSON and return the decoded answer.

        Example:
            ```python
            project = await client.patch_json("v2/projects/7", {"name": "Liver 2"})
            ```
        """
        return _decoded(await self._send("PATCH", path, params=params, body=_encoded(body)))

    async def put_json(
        self, path: str, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        """PUT ``body`` encoded as JSON and return the decoded answer.

        Example:
            ```python
            tags = await client.put_json("v2/projects/7/tags", ["liver"])
            ```
        """
        return _decoded(await self._send("PUT", path, params=params, body=_encoded(body)))

    async def delete_json(
        self, path: str, params: Mapping[str, Any] | None = None, body: Any = None
    ) -> Any:
        """DELETE any path and return the decoded answer (``None`` for an empty one).

        Example:
            ```python
            await client.delete_json("v2/projects/7")
            ```
        """
        encoded = None if body is None else _encoded(body)
        return _decoded(await self._send("DELETE", path, params=params, body=encoded))

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | Mapping[str, Any] | None,
        body: bytes | str | None = None,
    ) -> Response:
        if path.startswith(("http://", "https://")) and not self._http.is_trusted(path):
            # The official client joins paths to its base URL only; an absolute URL elsewhere
            # would be a request the token was never meant for.
            raise ConfigurationError(
                "raw requests go to the API or files server only; give a path under the base URL"
            )
        content = body.encode() if isinstance(body, str) else body
        return await self._http.request(
            method,
            path,
            params=params,
            body=content,
            headers={"Content-Type": JSON_TYPE} if content is not None else None,
            retry=_IDEMPOTENT[method],
        )


def _encoded(value: Any) -> bytes:
    try:
        return jsonlib.dumps(value, ensure_ascii=False).encode()
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"the body cannot be sent as JSON: {exc}") from None


def _decoded(response: Response) -> Any:
    """The JSON answer; an empty body (``204 No Content``) is ``None``."""
    if not response.content.strip():
        return None
    return response.json()
