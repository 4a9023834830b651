"""The value formats shared by the injection config file and the pod annotations that override it.

Each check returns the value or raises ValueError saying why; config.py turns that into a refused
file, annotations.py into a refused pod naming the annotation. Digits are ASCII only: Python's
`isdigit` and `\\d` accept "²" or "٣", which int() or iptables cannot use.
"""

import ipaddress
import re
from decimal import Decimal

from kubernetes.utils.quantity import parse_quantity

from webhooks import mesh, numbers
from webhooks.proxy import proxy_config

# The status port may be moved, but not onto a port Envoy or iptables already uses (the agent
# refuses these at start, webhooks/proxy/proxy_config.py).
RESERVED_STATUS_PORTS = tuple(sorted(mesh.RESERVED_PORTS - {mesh.STATUS_PORT}))
INTERCEPTION_MODES = ("REDIRECT", "NONE")  # `mesh-webhooks iptables` refuses TPROXY
ENVOY_LOG_LEVELS = ("trace", "debug", "info", "warning", "warn", "error", "critical", "off")
_LOG_LEVELS = frozenset(ENVOY_LOG_LEVELS)
# The exact patterns, mirrored by the chart's values.schema.json.
DURATION = re.compile(r"([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+")
INTERFACE = re.compile(r"[A-Za-z0-9_.:@-]{1,15}")
QUANTITY = re.compile(r"([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?")
LABEL_VALUE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")


def is_quantity(value: str) -> bool:
    """A non-negative Kubernetes resource quantity, such as 100m, 1.5, 128Mi or 1e3."""
    return bool(QUANTITY.fullmatch(value))


def quantity_amount(value: str) -> Decimal:
    """The amount a quantity (is_quantity) stands for: 100m is 0.1, 1Ki is 1024."""
    amount: Decimal = parse_quantity(value)  # type: ignore[no-untyped-call]
    return amount


def integer(value: str, low: int, high: int) -> int:
    number = numbers.whole_number(value.strip())
    if number is None or not low <= number <= high:
        raise ValueError(f"want an integer from {low} to {high}")
    return number


def split_list(value: str) -> list[str]:
    """The items of a comma-separated list, stripped, empty ones dropped."""
    return [part for part in (p.strip() for p in value.split(",")) if part]


def ports(value: str) -> list[int]:
    """The ports of a list that `port_list` accepted. Not int(): a port written with thousands
    of leading zeros is a valid port, and int() refuses more than 4,300 digits."""
    return [numbers.whole_number(part) or 0 for part in split_list(value)]


def port_list(value: str, star: bool = False) -> str:
    """Comma-separated ports 1-65535 (empty allowed); `star`: "*" alone means all ports."""
    if star and value.strip() == "*":
        return value.strip()
    for part in split_list(value):
        if not 0 < (numbers.whole_number(part) or 0) < 65536:
            raise ValueError(f"{part!r} is not a port (1-65535)")
    return value


def cidr_list(value: str, star: bool = False) -> str:
    """Comma-separated IPv4/IPv6 CIDRs or addresses (empty allowed); `star`: "*" alone."""
    if star and value.strip() == "*":
        return value.strip()
    for part in split_list(value):
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise ValueError(f"{part!r} is not a CIDR") from None
    return value


def port_list_or_star(value: str) -> str:
    return port_list(value, star=True)


def cidr_list_or_star(value: str) -> str:
    return cidr_list(value, star=True)


def interfaces(value: str) -> str:
    for part in split_list(value):
        if not INTERFACE.fullmatch(part):
            raise ValueError(f"{part!r} is not an interface name")
    return value


def interception_mode(value: str) -> str:
    if value == "TPROXY":
        raise ValueError(
            "TPROXY is not supported: the sidecar's iptables program only redirects "
            "(use REDIRECT, or NONE for no capture)"
        )
    if value not in INTERCEPTION_MODES:
        raise ValueError(f"want {' or '.join(INTERCEPTION_MODES)}")
    return value


def status_port(port: int) -> int:
    if not 0 < port < 65536:
        raise ValueError(f"{port} is not a port (1-65535)")
    if port in RESERVED_STATUS_PORTS:
        taken = ", ".join(str(p) for p in RESERVED_STATUS_PORTS)
        raise ValueError(f"port {port} is reserved for the proxy ({taken})")
    return port


def log_level(value: str) -> str:
    if value not in _LOG_LEVELS:
        raise ValueError(f"want one of {', '.join(sorted(_LOG_LEVELS))}")
    return value


def component_log_level(value: str) -> str:
    """component:level[,component:level…]; empty sets none."""
    for part in split_list(value):
        component, _, level = part.partition(":")
        if not component or level not in _LOG_LEVELS:
            raise ValueError("want component:level[,component:level…]")
    return value


def duration(value: str) -> str:
    if not DURATION.fullmatch(value):
        raise ValueError("want a duration such as 5s, 1m30s or 500ms")
    try:  # the agent refuses a longer drain at start: refuse it here, before the pod is made
        proxy_config.parse_duration(value)
    except ValueError:
        raise ValueError(f"want a duration of at most {proxy_config.MAX_DURATION}") from None
    return value


def label_value(value: str) -> str:
    if not LABEL_VALUE.fullmatch(value):
        raise ValueError("want a label value: 1-63 of A-Z a-z 0-9 - _ . with alphanumeric ends")
    return value
