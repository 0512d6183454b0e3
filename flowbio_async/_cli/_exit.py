"""Exit codes of ``flowbio-async`` and the one place exceptions are mapped to them.

The codes match the official ``flowbio`` CLI (issue #6) so scripts can branch on them:
0 ok, 1 API or runtime error, 2 usage, 3 authentication, 4 not found, 5 bad request,
and 130 after Ctrl-C (the shell convention 128 + SIGINT).
"""

from __future__ import annotations

from enum import IntEnum

from flowbio_async._errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    InvalidSampleError,
    NotFoundError,
    UnprocessableError,
)
from flowbio_async._pipeline_errors import InvalidRunError


class ExitCode(IntEnum):
    """Process exit codes returned by every ``flowbio-async`` command."""

    SUCCESS = 0
    RUNTIME = 1
    USAGE = 2
    AUTH = 3
    NOT_FOUND = 4
    BAD_REQUEST = 5
    INTERRUPTED = 130


class CliUsageError(Exception):
    """A problem with how the command was invoked (conflicting flags, a bad sheet...)."""


def exit_code_for(exc: BaseException) -> ExitCode:
    """Map an exception raised while running a command to its exit code."""
    if isinstance(exc, InvalidRunError | InvalidSampleError):
        # Refused by the client before sending: the same meaning as the server's 400 (#11, #17).
        return ExitCode.BAD_REQUEST
    if isinstance(exc, CliUsageError | ConfigurationError):
        # ConfigurationError is the library's "bad input before any request" (#2).
        return ExitCode.USAGE
    if isinstance(exc, AuthenticationError):
        return ExitCode.AUTH
    if isinstance(exc, NotFoundError):
        return ExitCode.NOT_FOUND
    if isinstance(exc, UnprocessableError):
        # docs/protocol.md §6.2 shape 5: only a 422 validation_error is the caller's bad input.
        return ExitCode.BAD_REQUEST if exc.code == "validation_error" else ExitCode.RUNTIME
    if isinstance(exc, BadRequestError):
        return ExitCode.BAD_REQUEST
    return ExitCode.RUNTIME
