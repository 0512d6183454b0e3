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
    ArchiveLimitError,
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
    InvalidUploadError,
    NotFoundError,
    NotStartedError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TransferError,
    UnexpectedResponseError,
    UnprocessableError,
    UnsafePathError,
)
from flowbio_async._graphql_errors import GraphQLError, GraphQLPaginationError
from flowbio_async._http import RateLimitInfo
from flowbio_async._import_errors import SampleImportFailedError, SampleImportTimeoutError
from flowbio_async._models._data import Data, DataType
from flowbio_async._models._downloads import (
    BulkDownload,
    BulkDownloadJob,
    DownloadReport,
    DownloadResult,
    ProjectDownload,
)
from flowbio_async._models._executions import Execution, ProcessExecution
from flowbio_async._models._files import DownloadLink, LargeUploadTicket, WorkspaceFile
from flowbio_async._models._monitoring import ExecutionLog, ExecutionUpdate
from flowbio_async._models._pipelines import (
    Pipeline,
    PipelineCategory,
    PipelineSchema,
    PipelineSubcategory,
    PipelineSummary,
    PipelineVersion,
    PipelineVersionRef,
    SchemaColumn,
    SchemaParam,
    SchemaSection,
)
from flowbio_async._models._projects import Project
from flowbio_async._models._sample_imports import SampleImportJob, SampleImportSpec
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
from flowbio_async._pipeline_errors import (
    ExecutionCanceledError,
    ExecutionError,
    ExecutionFailedError,
    ExecutionTimeoutError,
    InvalidRunError,
    PipelineNotFoundError,
    RunNotPermittedError,
    RunProblem,
    RunRefusedError,
)
from flowbio_async._progress import ProgressCallback, ProgressEvent
from flowbio_async._sample_rules import SampleCatalogue
from flowbio_async._transfers._many import ItemResult
from flowbio_async._version import __version__

__all__ = [
    "AnnotationUpload",
    "AnnotationValidationError",
    "AnnotationWarningsError",
    "ArchiveLimitError",
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
    "ExecutionCanceledError",
    "ExecutionError",
    "ExecutionFailedError",
    "ExecutionLog",
    "ExecutionTimeoutError",
    "ExecutionUpdate",
    "FlowApiError",
    "FlowConnectionError",
    "FlowError",
    "FlowTimeoutError",
    "FlowTransportError",
    "GoneError",
    "GraphQLError",
    "GraphQLPaginationError",
    "InsufficientSpaceError",
    "IntegrityError",
    "InvalidRunError",
    "InvalidSampleError",
    "InvalidUploadError",
    "ItemResult",
    "LargeUploadTicket",
    "MetadataAttribute",
    "MetadataOption",
    "MultiplexedUpload",
    "NotFoundError",
    "NotStartedError",
    "Organism",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Pipeline",
    "PipelineCategory",
    "PipelineNotFoundError",
    "PipelineSchema",
    "PipelineSubcategory",
    "PipelineSummary",
    "PipelineVersion",
    "PipelineVersionRef",
    "ProcessExecution",
    "ProgressCallback",
    "ProgressEvent",
    "Project",
    "ProjectDownload",
    "RateLimitError",
    "RateLimitInfo",
    "RunNotPermittedError",
    "RunProblem",
    "RunRefusedError",
    "Sample",
    "SampleCatalogue",
    "SampleImportFailedError",
    "SampleImportJob",
    "SampleImportSpec",
    "SampleImportTimeoutError",
    "SampleType",
    "SampleUploadSpec",
    "SchemaColumn",
    "SchemaParam",
    "SchemaSection",
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
