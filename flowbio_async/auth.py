"""Credentials, importable as the official client's ``flowbio.v2.auth`` module is.

Code written for ``flowbio`` ports by changing only the import: these are the very classes
``flowbio_async`` exports at its top level (re-exports, nothing more).

Example:
    ```python
    from flowbio_async import AsyncClient
    from flowbio_async.auth import UsernamePasswordCredentials

    async with AsyncClient() as client:
        await client.log_in(UsernamePasswordCredentials(username="alice", password="s3cret"))
    ```
"""

from flowbio_async._auth import (
    Credentials,
    EnvCredentials,
    TokenCredentials,
    TokenFileCredentials,
    UsernamePasswordCredentials,
)

__all__ = [
    "Credentials",
    "EnvCredentials",
    "TokenCredentials",
    "TokenFileCredentials",
    "UsernamePasswordCredentials",
]
