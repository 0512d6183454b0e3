"""Shared model base and the tolerant field types of docs/protocol.md §8 rows 16-17."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict


def coerce_id(value: Any) -> Any:
    """Ids are strings on the wire, but older servers send ints (docs/protocol.md §8 row 17)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


def coerce_timestamp(value: Any) -> Any:
    """Unix int/float, ISO-8601 (``Z`` or offset; naive means UTC) or null
    (docs/protocol.md §8 row 16)."""
    if value is None or isinstance(value, datetime):
        return (
            value.replace(tzinfo=UTC) if isinstance(value, datetime) and not value.tzinfo else value
        )
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        text = value.strip()
        if not text or text == "-":
            return None
        try:
            return datetime.fromtimestamp(float(text), UTC)
        except ValueError:
            pass
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


Id = Annotated[str, BeforeValidator(coerce_id)]
OptionalId = Annotated[str | None, BeforeValidator(coerce_id)]
Timestamp = Annotated[datetime | None, BeforeValidator(coerce_timestamp)]


class FlowModel(BaseModel):
    """Base of every model: unknown fields are kept (``extra="allow"``), names or aliases work."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
