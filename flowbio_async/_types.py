"""Type aliases used in public signatures, defined once (issue #11).

Every resource imports these names from here, so the generated sync facade shows them by
their plain names (``DateLike``, ``PathLike``...) instead of per-module qualified copies.

Example:
    ```python
    from flowbio_async._types import DateLike

    def since(value: DateLike) -> None: ...
    ```
"""

from __future__ import annotations

import os
from datetime import date, datetime

from flowbio_async._models._data import Data
from flowbio_async._models._executions import Execution
from flowbio_async._models._pipelines import PipelineVersion, PipelineVersionRef
from flowbio_async._models._samples import Sample

DateLike = str | int | float | date | datetime
"""A date filter: Unix seconds, ISO-8601 text, or a ``date``/``datetime`` (naive means UTC)."""

PathLike = str | os.PathLike[str]
"""A local file or directory path."""

IdLike = str | int
"""A Flow id: a string on the wire, an int accepted (docs/protocol.md §1.2)."""

DataOrId = Data | str | int
"""A data file, as its ``Data`` object or its id."""

SampleOrId = Sample | str | int
"""A sample, as its ``Sample`` object or its id."""

ExecutionOrId = Execution | str | int
"""An execution, as its ``Execution`` object or its id."""

VersionOrId = PipelineVersion | PipelineVersionRef | str | int
"""A pipeline version, as a ``PipelineVersion``/``PipelineVersionRef`` or its id."""
