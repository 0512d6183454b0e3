"""The ``client.samples`` resource, composed of one mixin per capability."""

from __future__ import annotations

from flowbio_async._resources._samples_downloads import SampleDownloads
from flowbio_async._resources._samples_imports import SampleImports
from flowbio_async._resources._samples_reads import SampleReads
from flowbio_async._resources._samples_uploads import SampleUploads


class SampleResource(SampleReads, SampleUploads, SampleDownloads, SampleImports):
    """Operations on samples: reads, uploads, downloads, imports from public accessions."""
