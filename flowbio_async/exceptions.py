"""Errors, importable as the official client's ``flowbio.v2.exceptions`` module is.

Code written for ``flowbio`` ports by changing only the import, ``except`` clauses included:
these are the very classes ``flowbio_async`` exports at its top level (re-exports, nothing
more). Each is the official class's counterpart with the same meaning and attributes
(``status_code``, ``message``, ``code``, ``details``, ``problem``; ``errors`` of an
annotation sheet). Sample and file names Flow would refuse are caught before sending, as
``InvalidSampleError`` / ``InvalidUploadError``, which are ``BadRequestError`` too, so
``except BadRequestError`` still sees them. Every other error of this SDK derives from
``FlowError`` (see docs/errors.md).

Example:
    ```python
    from flowbio_async import AsyncClient
    from flowbio_async.exceptions import BadRequestError, NotFoundError

    async with AsyncClient() as client:
        try:
            await client.samples.get("404")
        except NotFoundError as exc:
            print(exc.status_code, exc.message)
    ```
"""

from flowbio_async._errors import (
    AnnotationValidationError,
    AuthenticationError,
    BadRequestError,
    FlowApiError,
    FlowError,
    InvalidSampleError,
    InvalidUploadError,
    NotFoundError,
    UnprocessableError,
)

__all__ = [
    "AnnotationValidationError",
    "AuthenticationError",
    "BadRequestError",
    "FlowApiError",
    "FlowError",
    "InvalidSampleError",
    "InvalidUploadError",
    "NotFoundError",
    "UnprocessableError",
]
