"""Run one verb: resolve credentials, open the client, map failures to exit codes (issue #6).

Ctrl-C: asyncio cancels the running task on SIGINT, so the library's transfers unwind through
their cleanup (part files and resume records stay on disk) before ``KeyboardInterrupt``
reaches this module, which then exits 130. Running the same command again resumes.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import anyio

from flowbio_async._cli._command import Command, Invocation
from flowbio_async._cli._credentials import Resolved, resolve
from flowbio_async._cli._exit import CliUsageError, ExitCode, exit_code_for
from flowbio_async._cli._hints import WrongBaseUrlError, base_url_hint, cli_words, explain
from flowbio_async._cli._options import GlobalOptions
from flowbio_async._cli._output import Output
from flowbio_async._cli._session import save_rotated_tokens
from flowbio_async._config import ClientConfig
from flowbio_async._errors import (
    AnnotationValidationError,
    FlowApiError,
    FlowError,
    InvalidSampleError,
    InvalidUploadError,
    NotFoundError,
)
from flowbio_async._pipeline_errors import InvalidRunError
from flowbio_async._tasks import first_error


def run_command(args: argparse.Namespace) -> int:
    """Run the verb selected in ``args`` and return the process exit code."""
    command: Command = args.command
    options = GlobalOptions.from_args(args)
    output = Output(json_mode=options.json, stdout=sys.stdout, stderr=sys.stderr)
    resolved: Resolved | None = None
    try:
        resolved = resolve(
            options, command.auth, os.environ, username=getattr(args, "username", None)
        )
        code: int = anyio.run(_run_async, command, args, options, output, resolved)
        return code
    except KeyboardInterrupt:
        output.error("interrupted; run the same command again to resume")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as other command-line tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return int(ExitCode.RUNTIME)
    except EOFError:
        output.error("no input on the prompt")
        return int(ExitCode.USAGE)
    except BaseExceptionGroup as group:
        return _report(output, first_error(group), resolved)
    except Exception as exc:
        return _report(output, exc, resolved)


async def _run_async(
    command: Command,
    args: argparse.Namespace,
    options: GlobalOptions,
    output: Output,
    resolved: Resolved,
) -> int:
    from flowbio_async._client import AsyncClient

    config = _config(args, options)
    async with AsyncClient(base_url=resolved.base_url, config=config) as client:
        try:
            if resolved.credentials is not None:
                await client.log_in(resolved.credentials)
            invocation = Invocation(args=args, client=client, output=output, options=options)
            try:
                return await command.run(invocation)
            finally:
                if resolved.token_file is not None:
                    save_rotated_tokens(client, resolved.token_file)
        except NotFoundError as exc:
            # A base URL without /api makes every call a 404: say so instead of "Not found".
            hint = await base_url_hint(client, resolved.base_url)
            if hint is not None:
                raise WrongBaseUrlError(hint) from exc
            raise


def _config(args: argparse.Namespace, options: GlobalOptions) -> ClientConfig:
    # Progress is drawn on stderr only when it is a terminal and not silenced (issue #6).
    settings: dict[str, Any] = {
        "show_progress": not options.no_progress and sys.stderr.isatty(),
    }
    concurrency = getattr(args, "concurrency", None)
    if concurrency is not None:
        # --concurrency sets the client-wide transfer limiter; the pool stays larger (#3/#4).
        settings["max_concurrency"] = concurrency
        defaults = ClientConfig()
        settings["max_connections"] = max(
            defaults.max_connections, concurrency * defaults.segments_per_file + 8
        )
    return ClientConfig(**settings)


def _report(output: Output, exc: BaseException, resolved: Resolved | None = None) -> int:
    if isinstance(exc, KeyboardInterrupt):
        output.error("interrupted; run the same command again to resume")
        return int(ExitCode.INTERRUPTED)
    base_url = resolved.base_url if resolved is not None else None
    if isinstance(exc, InvalidSampleError):  # also a BadRequestError, but nothing was sent
        output.error(explain(exc), details=[cli_words(p) for p in exc.problems])
    elif isinstance(exc, InvalidUploadError):
        output.error(explain(exc))
    elif isinstance(exc, FlowApiError):
        details = exc.errors if isinstance(exc, AnnotationValidationError) else exc.details
        output.error(
            explain(exc, base_url),
            status_code=exc.status_code,
            details=details,
            problem=exc.problem,
        )
    elif isinstance(exc, InvalidRunError):
        output.error(explain(exc), details=exc.details)
    elif isinstance(exc, CliUsageError | FlowError):
        output.error(explain(exc, base_url))
    elif isinstance(exc, OSError) and exc.filename:
        output.error(f"{exc.strerror or exc}: {exc.filename}")
    elif isinstance(exc, Exception):
        # Anything else (TimeoutError from --timeout, a malformed answer): still one clear
        # line or JSON document, and the runtime exit code.
        text = str(exc)
        output.error(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
    else:
        raise exc
    return int(exit_code_for(exc))
