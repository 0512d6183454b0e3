"""The ``client.data`` resource, composed of one mixin per capability."""

from __future__ import annotations

from flowbio_async._resources._data_downloads import DataDownloads
from flowbio_async._resources._data_reads import DataReads
from flowbio_async._resources._data_uploads import DataUploads


class DataResource(DataReads, DataUploads, DataDownloads):
    """Operations on data: reads, uploads, downloads."""
