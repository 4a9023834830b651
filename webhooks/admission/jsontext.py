"""Compact JSON text for what goes on the wire: responses, patches, and the JSON we embed.

orjson is several times faster than the standard library here; the rare values it refuses
(integers beyond 64 bits) go through `json`. Parsing stays with `json`, which, unlike orjson,
keeps such integers exact.
"""

import json
from typing import Any

import orjson


def dump_bytes(value: Any) -> bytes:
    """What `json.dumps(value, separators=(",", ":"))` writes, except that non-ASCII text stays
    UTF-8 instead of \\u escapes."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":")).encode()


def compact(value: Any) -> str:
    return dump_bytes(value).decode()
