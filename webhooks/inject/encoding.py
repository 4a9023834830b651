"""Compact JSON text for what injection writes (env values, annotations), via orjson."""

import json
from typing import Any

import orjson


def compact(value: Any) -> str:
    """What `json.dumps(value, separators=(",", ":"))` writes, except that non-ASCII text stays
    UTF-8 instead of \\u escapes. orjson is several times faster; the rare values it refuses
    (integers beyond 64 bits) go through json."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"))
