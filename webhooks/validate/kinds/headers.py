"""Header operations (set/add/remove) on VirtualService routes and destinations."""

import re

from webhooks.validate import fields
from webhooks.validate.models.virtualservice import HeaderOperations, Headers
from webhooks.validate.verdict import Verdict

_VALUE = re.compile(r"^[^\x00-\x08\x0A-\x1F\x7F]*$")
_BAD = "invalid header configuration. "


def format_error(value: str) -> str | None:
    """Envoy's header-value formatter syntax, as Istio checks it (its port of Envoy's
    header_parser): `%%`, `%NAME%`, `%NAME(args)%` where args run to the first `)` or are a
    JSON-like array of strings `(["a", "b"])`. None, or Istio's message."""
    if "%" not in value:  # the common case: nothing but literal text
        return None
    state, index = "literal", 0
    while index < len(value):
        char, more = value[index], index + 1 < len(value)
        if state == "literal":
            if char == "%":
                if not more:
                    return _BAD + "Un-escaped %"
                if value[index + 1] == "%":
                    index += 1  # an escaped %
                else:
                    state = "name"
        elif state == "name":
            state = "literal" if char == "%" else "array?" if char == "(" else state
        elif state == "array?":  # spaces, then "[" or a bare argument
            state = "string?" if char == "[" else state if char == " " else "string"
        elif state == "string?":  # spaces, then the opening quote
            if char == '"':
                state = "string"
            elif char != " ":
                return _BAD + "Expecting '\"'"
        elif state == "string":  # to the closing quote; a ")" ends a bare argument
            if char == "\\":
                if not more:
                    return _BAD + "Un-terminated backslash in JSON string"
                index += 1
            elif char == ")":
                state = "%"
            elif char == '"':
                state = ",]"
        elif state == ",]":
            if char == ",":
                state = "string?"
            elif char == "]":
                state = ")"
            elif char != " ":
                return _BAD + "Expecting ',', ']', or whitespace"
        elif state == ")":
            if char == ")":
                state = "%"
            elif char != " ":
                # Istio's text, its placeholders unfilled
                return _BAD + "Expecting ')' or whitespace after '{}', but found '{}'"
        elif char == "%":  # state "%": the closing % of %NAME(...)%
            state = "literal"
        elif char != " ":
            return _BAD + "Expecting '%' or whitespace after"
        index += 1
    if state != "literal":
        return _BAD + f"Un-terminated variable expression '{value}'"
    return None


def check_headers(v: Verdict, headers: Headers, path: str) -> None:
    for side, operations in (("request", headers.request), ("response", headers.response)):
        if operations is not None:
            _check_operations(v, operations, f"{path}.{side}", side == "request")


def is_authority(name: str) -> bool:
    """`:authority` or `Host`, in any case: what a request may set, as a rewrite's authority."""
    return name.lower() in (":authority", "host")


def authority_conflict(rewritten: str, headers: Headers) -> str | None:
    """Istio's validateAuthorityRewrite: the authority is set in one place only, a route's
    rewrite or one of its request headers."""
    current = rewritten
    operations = headers.request
    for table in (operations.set, operations.add) if operations is not None else ():
        for name, value in table.items():
            if not is_authority(name):
                continue
            if current:
                return (
                    f"authority header cannot be set multiple times: have "
                    f"{fields.go_quote(current)}, attempting to set {fields.go_quote(value)}"
                )
            current = value
    return None


def _check_operations(v: Verdict, operations: HeaderOperations, path: str, request: bool) -> None:
    for verb, table in (("set", operations.set), ("add", operations.add)):
        for name, value in table.items():
            where = f"{path}.{verb}[{name}]"
            # A request may set its authority (Envoy rewrites it); nothing else internal.
            if not (request and is_authority(name)):
                _check_name(v, name, where)
            _check_value(v, value, where)
    for index, name in enumerate(operations.remove):
        _check_name(v, name, f"{path}.remove[{index}]")


def _check_name(v: Verdict, name: str, path: str) -> None:
    if not name:
        v.error("header name cannot be empty", path)
    elif name.lower() == "host":  # Istio's order: Host first, then the ":" prefix
        v.error(f"invalid header {fields.go_quote(name)}: cannot set Host header", path)
    elif name.startswith(":"):
        v.error(f'invalid header {fields.go_quote(name)}: header cannot have ":" prefix', path)


def _check_value(v: Verdict, value: str, path: str) -> None:
    if not _VALUE.match(value):
        v.error(f"header value configuration {value} is invalid", path)
    elif problem := format_error(value):
        v.error(f"header value configuration: {problem}", path)
