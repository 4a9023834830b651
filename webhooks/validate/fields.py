"""Checks shared by several kinds: ports, hosts, IPs and CIDRs, durations, headers, regexes, labels.

Each check returns Istio's error text (or None) so callers decide the field path and severity.
"""

import ipaddress
import re
import string
from functools import lru_cache

import re2

from webhooks import numbers

MAX_REGEX_BYTES = 1024
RE2_HINT = "Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)"

# Matched whole (fullmatch): Python's `$` also matches before a final newline, Go's does not.
_DNS1123_LABEL = re.compile(r"[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?")
# Istio's labels.IsWildcardDNS1123Label: `*`, or a DNS-1123 label after an optional `*` or `*-`.
_WILDCARD_LABEL = re.compile(r"\*|(?:\*-?)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?")
# Go's strconv.Atoi syntax; the value must also fit in an int64.
_GO_INTEGER = re.compile(r"[+-]?[0-9]+")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# RFC 7230 tchar; "+-." is a range in Istio's class, so "," slips in too (kept for parity).
_HEADER_NAME = re.compile(r"^[!#$%&'*+,\-.^_`|~A-Za-z0-9]+$")
_STRICT_HEADER_NAME = re.compile(r"^[-_A-Za-z0-9]+$")
_PSEUDO_HEADERS = frozenset({":method", ":scheme", ":authority", ":path", ":status"})
JWT_CLAIM_PREFIX = "@request.auth.claims"
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_NANOS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 10**9}
_NANOS |= {"m": 60 * 10**9, "h": 3600 * 10**9}
_MILLI = 1_000_000

# RE2's error codes, in Go regexp/syntax's words (what Istio users see).
_RE2_TO_GO = {
    "missing )": "missing closing )",
    "missing ]": "missing closing ]",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid repetition size": "invalid repeat count",
    "no argument for repetition operator": "missing argument to repetition operator",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid named capture group": "invalid named capture",
    "trailing \\": "trailing backslash at end of expression",
}


def go_quote(text: str) -> str:
    """Go's %q for the strings we show (close enough: printable unicode is kept)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return f'"{escaped}"'


def go_float(value: float) -> str:
    """Go's %v of a float64: 150 prints as 150, 0.5 as 0.5."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_cidr(text: str) -> bool:
    """Go's CIDR parsers: address/bits, bits in decimal. Python also takes a netmask
    (10.0.0.0/255.0.0.0) and leading zeros (/08), which Go refuses."""
    _, slash, bits = text.partition("/")
    leading_zero = len(bits) > 1 and bits[0] == "0"
    if not slash or numbers.whole_number(bits) is None or leading_zero:
        return False
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=4096)
def is_dns1123_label(text: str) -> bool:
    return len(text) <= 63 and bool(_DNS1123_LABEL.fullmatch(text))


def port_error(port: int) -> str | None:
    if 1 <= port <= 65535:
        return None
    return f"port number {port} must be in the range 1..65535"


def go_atoi(text: str) -> int | None:
    """Go's strconv.Atoi: the value, or None where it fails (not an integer, or past int64)."""
    if not _GO_INTEGER.fullmatch(text):
        return None
    magnitude = numbers.whole_number(text.lstrip("+-")) or 0  # never None: _GO_INTEGER matched
    value = -magnitude if text.startswith("-") else magnitude
    return value if -(2**63) <= value < 2**63 else None


def go_atoi_error(text: str) -> str | None:
    """Go's strconv.Atoi error for `text`, or None when it parses."""
    if go_atoi(text) is not None:
        return None
    why = "value out of range" if _GO_INTEGER.fullmatch(text) else "invalid syntax"
    return f"strconv.Atoi: parsing {go_quote(text)}: {why}"


def split_host_port(address: str) -> tuple[str, str, str | None]:
    """Go's net.SplitHostPort: (host, port, None), or ("", "", its error text)."""
    colon = address.rfind(":")
    if colon < 0:
        return "", "", f"address {address}: missing port in address"
    start, after = 0, 0
    if address.startswith("["):
        end = address.find("]")
        if end < 0:
            return "", "", f"address {address}: missing ']' in address"
        if end + 1 != colon:
            if end + 1 < len(address) and address[end + 1] == ":":
                return "", "", f"address {address}: too many colons in address"
            return "", "", f"address {address}: missing port in address"
        host = address[1:end]
        start, after = 1, end + 1
    else:
        host = address[:colon]
        if ":" in host:
            return "", "", f"address {address}: too many colons in address"
    if "[" in address[start:]:
        return "", "", f"address {address}: unexpected '[' in address"
    if "]" in address[after:]:
        return "", "", f"address {address}: unexpected ']' in address"
    return host, address[colon + 1 :], None


def unix_address_error(socket: str) -> str | None:
    """Istio's ValidateUnixAddress, of the path after `unix://` (`@` names an abstract socket)."""
    if not socket:
        return "unix address must not be empty"
    if socket.startswith("@") or (socket.startswith("/") and not socket.endswith("/")):
        return None
    return f"{socket} is not an absolute path to a file"


def _dns1123_labels_error(domain: str) -> str | None:
    """Istio's ValidateDNS1123Labels: a numeric top-level domain first, then each label; an empty
    last label (a trailing dot) is allowed."""
    labels = domain.split(".")
    if go_atoi(labels[-1]) is not None:
        return (
            f"domain name {go_quote(domain)} invalid "
            f"(top level domain {go_quote(labels[-1])} cannot be all-numeric)"
        )
    last = len(labels) - 1
    for index, label in enumerate(labels):
        if index == last and not label:
            return None
        if not is_dns1123_label(label):
            return f"domain name {go_quote(domain)} invalid (label {go_quote(label)} invalid)"
    return None


def _domain_length_error(domain: str) -> str | None:
    if len(domain) > 255:
        return f"domain name {go_quote(domain)} too long (max 255)"
    if not domain:
        return "empty domain name not allowed"
    return None


def fqdn_error(domain: str) -> str | None:
    """Istio's ValidateFQDN: DNS-1123 labels, at most 255 bytes, one trailing dot allowed."""
    return _domain_length_error(domain) or _dns1123_labels_error(domain)


@lru_cache(maxsize=4096)
def wildcard_domain_error(domain: str) -> str | None:
    """Istio's ValidateWildcardDomain: a wildcard label (`*`, `*foo`, `*-foo`) or a DNS-1123
    label first, then DNS-1123 labels. Istio checks the rest after the first dot on its own, so
    its errors name that rest, not the whole domain (`domain name "0.0.1" invalid …` for
    10.0.0.1)."""
    if problem := _domain_length_error(domain):
        return problem
    first, dot, rest = domain.partition(".")
    if len(first) > 63 or not _WILDCARD_LABEL.fullmatch(first):
        return f"domain name {go_quote(domain)} invalid (label {go_quote(first)} invalid)"
    return _dns1123_labels_error(rest) if dot else None


_OUTBOUND_SNI_FORMAT = "outbound_.<port>_._.<hostname>"


def gateway_bound_domain_error(domain: str, sni: bool) -> str | None:
    """Istio's ValidateWildcardDomainForVirtualServiceBoundToGateway: as wildcard_domain_error,
    but where SNI hosts are in play, the names Envoy generates for AUTO_PASSTHROUGH
    (`outbound_.80_._.foo.example.com`) pass when their port holds a digit and their host a
    letter."""
    if not (sni and domain.startswith("outbound_")):
        return wildcard_domain_error(domain)
    if problem := _domain_length_error(domain):
        return problem
    parts = domain.split("_")
    if len(parts) < 4:
        return f"domain name {domain} invalid, should follow '{_OUTBOUND_SNI_FORMAT}' format"
    direction, port, hostname = parts[0], parts[1].strip("."), parts[3].strip(".")
    if direction != "outbound":
        return f"domain name {go_quote(domain)} invalid (label {go_quote(direction)} invalid)"
    for label, wanted in ((port, "0123456789"), (hostname, string.ascii_letters)):
        if not any(char in wanted for char in label):
            return (
                f"domain name {go_quote(domain)} invalid (label {go_quote(label)} invalid). "
                f"should follow {_OUTBOUND_SNI_FORMAT} format"
            )
    return None


@lru_cache(maxsize=4096)
def parse_duration(text: str) -> int | None:
    """Go's time.ParseDuration, in nanoseconds; None when it is not a duration."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0
    if not body:
        return None
    total, position = 0, 0
    while position < len(body):
        match = _DURATION_PART.match(body, position)
        if match is None or match.group(1) in ("", "."):
            return None
        whole, _, fraction = match.group(1).partition(".")
        fraction = fraction[:19]  # Go ignores the digits past int64's precision
        unit = _NANOS[match.group(2)]
        magnitude = numbers.whole_number(whole or "0") or 0  # ASCII digits: never None
        total += magnitude * unit + int(fraction or 0) * unit // 10 ** len(fraction)
        position = match.end()
    if total >= 2**63:  # Go's overflow: "invalid duration"
        return None
    return -total if text.startswith("-") else total


def bad_duration(text: str) -> str:
    return f"bad Duration: time: invalid duration {go_quote(text)}"


def duration_error(text: str) -> str | None:
    """Istio's ValidateDuration: at least 1ms, whole milliseconds."""
    nanos = parse_duration(text)
    if nanos is None:
        return bad_duration(text)
    if nanos < _MILLI:
        return "duration must be greater than 1ms"
    if nanos % _MILLI:
        return "only durations to ms precision are supported"
    return None


def percent_error(value: float) -> str | None:
    if value == 0.0 or 0.0001 <= value <= 100.0:
        return None
    return f"percentage {go_float(value)} is neither 0.0, nor in range [0.0001, 100.0]"


@lru_cache(maxsize=4096)
def header_name_error(name: str, allow_claims: bool = True) -> str | None:
    """VirtualService header names: tchar, pseudo-headers, or JWT claim keys."""
    if not name:
        return "header name cannot be empty"
    if name in _PSEUDO_HEADERS or _HEADER_NAME.fullmatch(name):
        return None
    if allow_claims and is_routing_claim(name):
        return None
    return f"header name {name} is not a valid header name"


def is_routing_claim(name: str) -> bool:
    """Istio's jwt.ToRoutingClaim match: the prefix in any case, then `.claim` or `[claim]`."""
    if name[: len(JWT_CLAIM_PREFIX)].lower() != JWT_CLAIM_PREFIX:
        return False
    rest = name[len(JWT_CLAIM_PREFIX) :]
    return (rest[:1] == "." and len(rest) > 1) or (
        rest[:1] == "[" and rest[-1:] == "]" and len(rest) > 2
    )


def strict_header_name_error(name: str) -> str | None:
    if _STRICT_HEADER_NAME.fullmatch(name):
        return None
    return f"header name {name} is not a valid header name"


@lru_cache(maxsize=4096)
def regex_error(what: str, pattern: str) -> str | None:
    """Istio's validateStringRegexp: 1024 bytes at most, then an RE2 compile."""
    if len(pattern.encode()) > MAX_REGEX_BYTES:
        return f'"{what}": regex is too large, max length allowed is {MAX_REGEX_BYTES}'
    problem = _re2_problem(pattern)
    if problem is None:
        return None
    return f'"{what}": error parsing regexp: {problem}; {RE2_HINT}'


def _re2_problem(pattern: str) -> str | None:
    if "\\C" in pattern.replace("\\\\", ""):
        return "invalid escape sequence: `\\C`"
    options = re2.Options()
    options.log_errors = False
    try:
        re2.compile(pattern, options)
    except re2.error as error:
        raw = error.args[0] if error.args else b""
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        code, _, expression = text.partition(": ")
        if code.startswith("trailing \\"):
            return "trailing backslash at end of expression: ``"
        return f"{_RE2_TO_GO.get(code, code)}: `{expression}`"
    return None


def label_errors(labels: dict[str, str]) -> list[str]:
    """Istio's labels.Validate: qualified-name keys, label-syntax values."""
    errors = []
    for key, value in labels.items():
        prefix, slash, name = key.rpartition("/")
        valid_prefix = not slash or (bool(prefix) and fqdn_error(prefix) is None)
        if not (valid_prefix and len(name) <= 63 and _QUALIFIED_NAME.fullmatch(name)):
            errors.append(f"invalid tag key: {go_quote(key)}")
        if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
            errors.append(f"invalid tag value: {go_quote(value)}")
    return errors


def selector_errors(labels: dict[str, str]) -> list[str]:
    """Workload selectors: no empty keys, no wildcards (the CRDs' CEL rules)."""
    errors = []
    for key, value in labels.items():
        # Istio quotes the label as key=value.
        if key == "":
            errors.append(f"empty key is not supported in selector: {go_quote(f'{key}={value}')}")
        if "*" in key or "*" in value:
            errors.append(f"wildcard is not supported in selector: {go_quote(f'{key}={value}')}")
    return errors
