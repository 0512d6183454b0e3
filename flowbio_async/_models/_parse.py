"""Server JSON into models: an odd 200 body is an ``UnexpectedResponseError`` (issue #7).

Every read of server data goes through :func:`parse_model`/:func:`parse_models`, so pydantic's
``ValidationError`` (not a ``FlowError``) and wrong JSON types never escape a resource. The
message names the endpoint and the model, never the body's values (they may hold secrets).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from flowbio_async._errors import UnexpectedResponseError

M = TypeVar("M", bound=BaseModel)


def validation_summary(exc: ValidationError) -> str:
    """``"2 problems, first at id: Input should be ..."`` without the offending input."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    if not errors:
        return "invalid"
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    count = f"{len(errors)} problems, first" if len(errors) > 1 else "1 problem"
    return f"{count} at {where}: {first['msg']}"


def _unexpected(endpoint: str, detail: str, status_code: int) -> UnexpectedResponseError:
    return UnexpectedResponseError(f"{endpoint}: {detail}", status_code=status_code)


def expect_object(
    body: Any, *, endpoint: str, status_code: int = 200, what: str = "JSON"
) -> dict[str, Any]:
    """The body as a JSON object, else ``UnexpectedResponseError`` naming ``what``."""
    if not isinstance(body, dict):
        detail = f"expected a {what} object, got {type(body).__name__}"
        raise _unexpected(endpoint, detail, status_code)
    return body


def expect_objects(body: Any, *, endpoint: str, status_code: int = 200) -> list[dict[str, Any]]:
    """The body as a JSON list of objects, else ``UnexpectedResponseError``."""
    if not isinstance(body, list):
        detail = f"expected a JSON list, got {type(body).__name__}"
        raise _unexpected(endpoint, detail, status_code)
    return [expect_object(item, endpoint=endpoint, status_code=status_code) for item in body]


def parse_model(model: type[M], body: Any, *, endpoint: str, status_code: int = 200) -> M:
    """Validate one JSON object into ``model``; odd bodies raise ``UnexpectedResponseError``.

    Example:
        ```python
        data = parse_model(Data, response.json(), endpoint="GET data/7")
        ```
    """
    obj = expect_object(body, endpoint=endpoint, status_code=status_code, what=model.__name__)
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        detail = f"not a valid {model.__name__} ({validation_summary(exc)})"
        raise _unexpected(endpoint, detail, status_code) from None


def parse_models(model: type[M], body: Any, *, endpoint: str, status_code: int = 200) -> list[M]:
    """Validate a JSON list of objects into ``model`` instances (see :func:`parse_model`)."""
    if not isinstance(body, list):
        detail = f"expected a JSON list of {model.__name__}, got {type(body).__name__}"
        raise _unexpected(endpoint, detail, status_code)
    return [parse_model(model, item, endpoint=endpoint, status_code=status_code) for item in body]
