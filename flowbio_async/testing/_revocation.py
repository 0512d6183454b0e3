"""Refresh tokens that no longer work: rotated away or logged out (issue #14 item 12).

A refresh token is a signed JWT, valid until it expires; the server remembers the ``jti``
of every refresh token it retired, until that token would have expired anyway. ``GET
/token`` retires the cookie it rotates, ``POST /logout`` the one it clears, and every place
that accepts a refresh cookie (``/token``, downloads, docs/protocol.md §5.1) asks
:func:`is_revoked`.

Example:
    ```python
    revoke(store, cookie)
    assert is_revoked(store, cookie)
    ```
"""

from __future__ import annotations

import base64
import json
import time
import weakref
from typing import Any

from flowbio_async.testing._store import Store

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS revoked_tokens (jti TEXT PRIMARY KEY, expires INTEGER NOT NULL)"
)
_ready: weakref.WeakSet[Store] = weakref.WeakSet()


def _table(store: Store) -> Store:
    if store not in _ready:
        store.execute(_SCHEMA)
        _ready.add(store)
    return store


def _claims(token: str) -> dict[str, Any]:
    """The payload of a JWT whose signature the caller has already checked."""
    try:
        segment = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (IndexError, ValueError, TypeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def revoke(store: Store, token: str) -> None:
    """Retire a refresh token for good (its ``jti``, kept until it would expire)."""
    claims = _claims(token)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        return
    now = int(time.time())
    expires = claims.get("exp")
    until = int(expires) if isinstance(expires, int | float) else now + 7 * 24 * 3600
    _table(store).execute(
        "INSERT OR REPLACE INTO revoked_tokens (jti, expires) VALUES (?, ?)", (jti, until)
    )
    store.execute("DELETE FROM revoked_tokens WHERE expires < ?", (now,))


def is_revoked(store: Store, token: str) -> bool:
    """True when the refresh token was rotated away or logged out."""
    jti = _claims(token).get("jti")
    if not isinstance(jti, str):
        return True  # every refresh token this server signs has one
    found = _table(store).scalar("SELECT 1 FROM revoked_tokens WHERE jti = ?", (jti,))
    return found is not None
