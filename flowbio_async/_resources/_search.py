"""Global search across samples, projects, executions and data (``/search``,
docs/protocol.md §4.8)."""

from __future__ import annotations

from flowbio_async._models._search import SearchResults
from flowbio_async._resources._base import Resource


class SearchResource(Resource):
    """Backs :meth:`AsyncClient.search`; the endpoint is documented only by the docs site."""

    async def search(self, query: str) -> SearchResults:
        """Everything matching ``query``.

        Example:
            ```python
            results = await client.search("BRCA1")
            ```
        """
        results = await self._get_model(SearchResults, "search", {"q": query})
        for data in results.data:
            self._with_download_url(data)
        return results
