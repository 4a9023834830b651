"""The schema layer: a spec checked against its model, errors worded like the apiserver's."""

import json
from typing import Any

import pydantic
from pydantic_core import ErrorDetails

from webhooks.validate.models.base import Model

_JSON_TYPES = {
    "string_type": "string",
    "int_type": "integer",
    "float_type": "number",
    "bool_type": "boolean",
    "list_type": "array",
    "dict_type": "object",
    "model_type": "object",
    "model_attributes_type": "object",
}


def json_type(value: Any) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "boolean"
        case int():
            return "integer"
        case float():
            return "number"
        case str():
            return "string"
        case list():
            return "array"
        case dict():
            return "object"
    return type(value).__name__


def field_path(location: tuple[int | str, ...]) -> str:
    path = "spec"
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def decode(model: type[Model], spec: dict[str, Any]) -> tuple[Model | None, list[str]]:
    try:
        return model.model_validate(spec), []
    except pydantic.ValidationError as error:
        return None, [describe(issue) for issue in error.errors(include_url=False)]


def describe(issue: ErrorDetails) -> str:
    """One pydantic error, in the words `kubectl apply` would use for the CRD schema."""
    path, kind, ctx = field_path(issue["loc"]), issue["type"], issue.get("ctx") or {}
    if kind == "missing":
        return f"{path}: Required value"
    if kind == "extra_forbidden":
        return f'unknown field "{path}"'
    if kind in _JSON_TYPES:
        actual = json_type(issue["input"])
        return f'{path} in body must be of type {_JSON_TYPES[kind]}: "{actual}"'
    if kind == "literal_error":
        shown = json.dumps(issue["input"]) if isinstance(issue["input"], str) else issue["input"]
        return f"{path}: Unsupported value: {shown}: supported values: {ctx.get('expected')}"
    bounds = {
        "string_too_short": f"should be at least {ctx.get('min_length')} chars long",
        "string_too_long": f"should be at most {ctx.get('max_length')} chars long",
        "string_pattern_mismatch": f"should match '{ctx.get('pattern')}'",
        "greater_than_equal": f"should be greater than or equal to {ctx.get('ge')}",
        "less_than_equal": f"should be less than or equal to {ctx.get('le')}",
        "too_short": f"should have at least {ctx.get('min_length')} items",
    }
    if kind in bounds:
        return f"{path} in body {bounds[kind]}"
    if kind == "duration":
        return f"{issue['msg']} ({path})"
    return f"{path}: {issue['msg']}"
