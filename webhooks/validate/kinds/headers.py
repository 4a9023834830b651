"""Header operations (set/add/remove) on VirtualService routes and destinations."""

import re

from webhooks.validate import fields
from webhooks.validate.models.virtualservice import HeaderOperations, Headers
from webhooks.validate.verdict import Verdict

_VALUE = re.compile(r"^[^\x00-\x08\x0A-\x1F\x7F]*$")
# Envoy's header formatter: %% or %COMMAND% / %COMMAND(args)%; any other % is unescaped.
_FORMAT_TOKEN = re.compile(r"%%|%[A-Z][A-Z0-9_]*(\([^%]*\))?(:[0-9]+)?%")


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
        return
    if "%" in _FORMAT_TOKEN.sub("", value):
        v.error("header value configuration: invalid header configuration. Un-escaped %", path)
