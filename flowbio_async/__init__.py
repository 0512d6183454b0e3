"""flowbio-async: an asyncio-first SDK for the Flow bioinformatics platform.

Example:
    ```python
    import anyio
    from flowbio_async import AsyncClient, UsernamePasswordCredentials

    async def main() -> None:
        async with AsyncClient() as client:
            await client.log_in(UsernamePasswordCredentials(username="alice", password="s3cret"))
            print(await client.me())

    anyio.run(main)
    ```
"""

from flowbio_async._auth import (
    Credentials,
    EnvCredentials,
    TokenCredentials,
    TokenFileCredentials,
    UsernamePasswordCredentials,
)
from flowbio_async._client import AsyncClient
from flowbio_async._config import ClientConfig
from flowbio_async._errors import (
    AnnotationValidationError,
    AnnotationWarningsError,
    AuthenticationError,
    BadRequestError,
    BulkDownloadFailedError,
    ConfigurationError,
    DestinationExistsError,
    DestinationNotWritableError,
    FlowApiError,
    FlowConnectionError,
    FlowError,
    FlowTimeoutError,
    FlowTransportError,
    GoneError,
    InsufficientSpaceError,
    IntegrityError,
    InvalidSampleError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TransferError,
    UnexpectedResponseError,
    UnprocessableError,
    UnsafePathError,
)
from flowbio_async._http import RateLimitInfo
from flowbio_async._models._data import Data, DataType
from flowbio_async._models._downloads import (
    BulkDownload,
    BulkDownloadJob,
    DownloadReport,
    DownloadResult,
    ProjectDownload,
)
from flowbio_async._models._executions import Execution
from flowbio_async._models._files import DownloadLink, LargeUploadTicket, WorkspaceFile
from flowbio_async._models._projects import Project
from flowbio_async._models._samples import (
    MetadataAttribute,
    MetadataOption,
    Organism,
    Sample,
    SampleType,
)
from flowbio_async._models._search import SearchResults
from flowbio_async._models._uploads import AnnotationUpload, MultiplexedUpload, SampleUploadSpec
from flowbio_async._models._users import User
from flowbio_async._pagination import AsyncPager
from flowbio_async._progress import ProgressCallback, ProgressEvent
from flowbio_async._sample_rules import SampleCatalogue
from flowbio_async._transfers._many import ItemResult
from flowbio_async._version import __version__

__all__ = [
    "AnnotationUpload",
    "AnnotationValidationError",
    "AnnotationWarningsError",
    "AsyncClient",
    "AsyncPager",
    "AuthenticationError",
    "BadRequestError",
    "BulkDownload",
    "BulkDownloadFailedError",
    "BulkDownloadJob",
    "ClientConfig",
    "ConfigurationError",
    "Credentials",
    "Data",
    "DataType",
    "DestinationExistsError",
    "DestinationNotWritableError",
    "DownloadLink",
    "DownloadReport",
    "DownloadResult",
    "EnvCredentials",
    "Execution",
    "FlowApiError",
    "FlowConnectionError",
    "FlowError",
    "FlowTimeoutError",
    "FlowTransportError",
    "GoneError",
    "InsufficientSpaceError",
    "IntegrityError",
    "InvalidSampleError",
    "ItemResult",
    "LargeUploadTicket",
    "MetadataAttribute",
    "MetadataOption",
    "MultiplexedUpload",
    "NotFoundError",
    "Organism",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "ProgressCallback",
    "ProgressEvent",
    "Project",
    "ProjectDownload",
    "RateLimitError",
    "RateLimitInfo",
    "Sample",
    "SampleCatalogue",
    "SampleType",
    "SampleUploadSpec",
    "SearchResults",
    "ServerError",
    "TokenCredentials",
    "TokenFileCredentials",
    "TransferError",
    "UnexpectedResponseError",
    "UnprocessableError",
    "UnsafePathError",
    "User",
    "UsernamePasswordCredentials",
    "WorkspaceFile",
    "__version__",
]
