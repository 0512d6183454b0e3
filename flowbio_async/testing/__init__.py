"""A local Flow server for tests, demos and benchmarks (see docs/local-server.md).

Example:
    ```python
    from flowbio_async.testing import FlowServer

    with FlowServer() as server:
        print(server.url)  # pass to AsyncClient(base_url=...)
    ```
"""

from flowbio_async.testing._process import FlowServer, FlowServerError
from flowbio_async.testing._settings import ServerSettings

__all__ = ["FlowServer", "FlowServerError", "ServerSettings"]
