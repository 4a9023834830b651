"""AuthorizationPolicy values: IPs and CIDRs, ports, service accounts, path templates and the
attribute keys of `when` conditions, with Istio's texts (pkg/config/security)."""

import ipaddress
import re
from collections.abc import Sequence

from webhooks import numbers
from webhooks.validate import fields

MAX_SERVICE_ACCOUNTS = 16
_PCHARS = re.compile(r"^[a-zA-Z0-9\-._~%!$&'()+,;:@=]+$")
"""RFC 3986 pchar (unreserved, pct-encoded, sub-delims but `*`, ":" and "@"), as Envoy wants
for the literal segments of a path template."""
_TEMPLATES = ("{*}", "{**}")
# Keys whose values are free-form, and keys of the form name[sub] (validateMapKey).
_PLAIN_KEYS = frozenset(
    {
        "source.namespace",
        "source.principal",
        "source.trustDomain",
        "request.auth.principal",
        "request.auth.audiences",
        "request.auth.presenter",
        "connection.sni",
    }
)
_MAP_KEY_PREFIXES = (
    "request.headers",
    "request.experimental.inline.headers",
    "request.auth.claims",
    "experimental.envoy.filters.",
)
_IP_KEYS = frozenset({"source.ip", "remote.ip", "destination.ip"})
HTTP_KEY_PREFIXES = ("request.",)


def ip_errors(values: Sequence[str]) -> list[str]:
    """`bad CIDR range` for values with a slash, `bad IP address` for the others."""
    errors = []
    for value in values:
        if "/" in value:
            if problem := _prefix_error(value):
                errors.append(f"bad CIDR range ({value}): {problem}")
        elif not fields.is_ip(value):
            errors.append(f"bad IP address ({value})")
    return errors


def _prefix_error(value: str) -> str | None:
    """Go's netip.ParsePrefix errors (the common ones), or None for a valid prefix."""
    address, _, bits = value.rpartition("/")
    where = f"netip.ParsePrefix({fields.go_quote(value)})"
    if not fields.is_ip(address) or "%" in address:
        return f"{where}: ParseAddr({fields.go_quote(address)}): unable to parse IP"
    length = numbers.whole_number(bits)
    if length is None or (len(bits) > 1 and bits[0] == "0"):
        return f"{where}: bad bits after slash: {fields.go_quote(bits)}"
    if length > ipaddress.ip_address(address).max_prefixlen:
        return f"{where}: prefix length out of range"
    return None


def port_errors(values: Sequence[str]) -> list[str]:
    errors = []
    for value in values:
        number = numbers.whole_number(value)
        if number is None:
            errors.append(
                f'bad port ({value}): strconv.ParseUint: parsing "{value}": invalid syntax'
            )
        elif number > 4294967295:
            errors.append(
                f'bad port ({value}): strconv.ParseUint: parsing "{value}": value out of range'
            )
        elif number > 65535:
            errors.append(f"bad port ({value}): <nil>")  # Go prints the nil error as is
    return errors


def service_account_error(what: str, values: Sequence[str]) -> str | None:
    """Istio stops at the first bad service account."""
    if len(values) > MAX_SERVICE_ACCOUNTS:
        return f"may not have more than {MAX_SERVICE_ACCOUNTS} values"
    expected = "expected format 'serviceAccount' or 'namespace/serviceAccount', found"
    for value in values:
        quoted = fields.go_quote(value)
        if value == "":
            return f"empty value not allowed, found in {what}"
        if "*" in value:
            return f"wildcard not allowed, found in {what}"
        if value.count("/") > 1:
            return f"{expected} {quoted} in {what}"
        if len(value) > 320:
            return f"value cannot exceed 320 characters, found {quoted} in {what}"
        namespace, slash, account = value.rpartition("/")
        if slash and not namespace:
            return f"{expected} empty namespace {quoted} in {what}"
        if not account:
            return f"{expected} empty serviceAccount {quoted} in {what}"
    return None


def path_template_error(what: str, path: str) -> str | None:
    """`{*}` and `{**}` segments, `{**}` last, literal segments of pchars when templated."""
    templated = any(template in path for template in _TEMPLATES)
    trimmed = path.strip("/")
    bad = f"invalid or unsupported path {trimmed}, found in {what}."
    match_any = False
    for segment in trimmed.split("/"):
        if segment in _TEMPLATES:
            if match_any:
                return f"{bad} {{**}} is not the last operator"
            match_any = segment == "{**}"
            continue
        if "{" in segment or "}" in segment:
            return f"{bad} Contains '{{' or '}}' beyond a supported path template"
        if templated and not _PCHARS.match(segment):
            return f"{bad} Contains segment {segment} with invalid string literal"
    return None


def attribute_error(key: str, values: Sequence[str]) -> str | None:
    """What is wrong with a `when` key and its values (one error, as Istio reports it)."""
    for value in values:
        if value == "":
            return f"empty value not allowed, found in {key}"
    if key in _PLAIN_KEYS:
        return None
    if key.startswith(_MAP_KEY_PREFIXES):
        return _map_key_error(key)
    if key in _IP_KEYS:
        return _multierror(ip_errors(values))
    if key == "source.serviceAccount":
        return service_account_error(key, values)
    if key == "destination.port":
        return _multierror(port_errors(values))
    if key == "destination.namespace":
        return f"attribute {key} is replaced by the metadata.namespace"
    if key.startswith("destination.labels"):
        return f"attribute {key} is replaced by the workload selector"
    if key in ("destination.name", "destination.user"):
        return f"deprecated attribute {key}: only supported in v1alpha1"
    return f"unknown attribute: {key}"


def _map_key_error(key: str) -> str | None:
    bracket = key.find("[")
    if key.endswith("]") and 0 < bracket < len(key) - 2:
        return None
    return f"bad key ({key}): should have format a[b]"


def _multierror(errors: list[str]) -> str | None:
    """go-multierror built with Append: even one error is rendered as a list."""
    if not errors:
        return None
    items = "".join(f"\n\t* {error}" for error in errors)
    noun = "error" if len(errors) == 1 else "errors"
    return f"{len(errors)} {noun} occurred:{items}\n\n"
