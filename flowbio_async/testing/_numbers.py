"""Numbers from forms, query strings and JSON bodies: validated into a 400, never a 500."""

from __future__ import annotations

import math
from typing import Any

from flowbio_async.testing._security import error

_LARGEST = 1 << 62
"""Beyond any file size or count; also keeps SQLite's 64-bit integers safe."""


def whole_number(value: Any, name: str, *, minimum: int = 0) -> int:
    """A whole number from a query, form or JSON value; anything else is a 400 for ``name``.

    ``inf``, ``nan``, ``1e999``, ``-1``, ``true`` and ``"12abc"`` are refused (issue #14:
    ``int(float("inf"))`` escaped as a 500); ``"1000.0"`` is accepted as 1000.

    Example:
        ```python
        whole_number("1000.0", "expected_file_size")   # 1000
        whole_number("inf", "expected_file_size")      # raises ApiError(400, ...)
        ```
    """
    refused = error(400, {name: ["A whole number is required."]})
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise refused
    number: int
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        try:
            number = int(text)  # exact for long digit strings, unlike float()
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                raise refused from None
            if not math.isfinite(as_float) or not as_float.is_integer():
                raise refused from None
            number = int(as_float)
    if number < minimum:
        raise error(400, {name: [f"Must be at least {minimum}."]})
    if number > _LARGEST:
        raise error(400, {name: ["Too large."]})
    return number
