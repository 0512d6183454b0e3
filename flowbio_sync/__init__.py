"""flowbio_sync: the synchronous facade of flowbio-async (generated; see issue #5)."""

from flowbio_async import __version__

__all__ = ["__version__"]
