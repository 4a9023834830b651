"""Header operations (set/add/remove) on VirtualService routes and destinations."""

import re

from webhooks.validate.models.virtualservice import HeaderOperations, Headers
from webhooks.validate.verdict import Verdict

_VALUE = re.compile(r"^[^\x00-\x08\x0A-\x1F\x7F]*$")
# Envoy's header formatter: %% or %COMMAND% / %COMMAND(args)%; any other % is unescaped.
_FORMAT_TOKEN = re.compile(r"%%|%[A-Z][A-Z0-9_]*(\([^%]*\))?(:[0-9]+)?%")


def check_headers(v: Verdict, headers: Headers, path: str) -> None:
    for side, operations in (("request", headers.request), ("response", headers.response)):
        if operations is not None:
            _check_operations(v, operations, f"{path}.{side}")


def _check_operations(v: Verdict, operations: HeaderOperations, path: str) -> None:
    for verb, table in (("set", operations.set), ("add", operations.add)):
        for name, value in table.items():
            where = f"{path}.{verb}[{name}]"
            _check_name(v, name, where)
            _check_value(v, value, where)
    for index, name in enumerate(operations.remove):
        _check_name(v, name, f"{path}.remove[{index}]")


def _check_name(v: Verdict, name: str, path: str) -> None:
    if not name:
        v.error("header name cannot be empty", path)
    elif name.startswith(":"):
        v.error(f'invalid header "{name}": header cannot have ":" prefix', path)
    elif name.lower() == "host":
        v.error(f'invalid header "{name}": cannot set Host header', path)


def _check_value(v: Verdict, value: str, path: str) -> None:
    if not _VALUE.match(value):
        v.error(f"header value configuration {value} is invalid", path)
        return
    if "%" in _FORMAT_TOKEN.sub("", value):
        v.error("header value configuration: invalid header configuration. Un-escaped %", path)
