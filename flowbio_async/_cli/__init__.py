"""The ``flowbio-async`` command line (see DEVELOPING.md for who owns which verb)."""

from __future__ import annotations

from flowbio_async._cli._main import main

__all__ = ["main"]
