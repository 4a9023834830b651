"""`PROXY_CONFIG`: the per-pod proxy settings the injector writes into the proxy's env as JSON.

Only the fields the static sidecar uses are read; Istio's other ProxyConfig fields are ignored.
A value that cannot be used is refused at start with a message naming the field.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from webhooks import mesh, yamlio

# Istio's meaning: unset runs 2 workers; 0 lets Envoy pick (one worker per hardware thread).
DEFAULT_CONCURRENCY = 2
DEFAULT_DRAIN = "5s"
# Istio's default drain is 5s, and the kubelet kills the pod after its
# terminationGracePeriodSeconds anyway: a longer duration is a mistake, and an unbounded one
# (`999...9s` → inf) cannot be given to Envoy's --drain-time-s or to asyncio.sleep.
MAX_DURATION = "24h"
MAX_DURATION_SECONDS = 24 * 3600.0
# The status port may be moved, but not onto a port Envoy already listens on.
_TAKEN_BY_ENVOY = mesh.RESERVED_PORTS - {mesh.STATUS_PORT}
# ASCII digits only: `\d` also matches "٣", which Go's time.ParseDuration refuses.
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(h|ms|m|s|us|µs|ns)")
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


class ProxyConfigError(ValueError):
    """PROXY_CONFIG (or a flag standing in for one of its fields) cannot be used."""


@dataclass(frozen=True)
class ProxyConfig:
    status_port: int = mesh.STATUS_PORT
    concurrency: int = DEFAULT_CONCURRENCY  # 0: Envoy's default, one worker per core
    drain_seconds: float = 5.0


def parse_duration(text: str) -> float:
    """Seconds from a protobuf/Go duration ("5s", "1m30s", "250ms") or a bare number, at most
    MAX_DURATION."""
    text = text.strip()
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        seconds = float(text)
    elif not text or _DURATION_PART.sub("", text):
        raise ValueError(f"{text!r} is not a duration (e.g. 5s, 1m30s)")
    else:
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
    if not (math.isfinite(seconds) and seconds <= MAX_DURATION_SECONDS):
        raise ValueError(f"{text!r} is longer than {MAX_DURATION}")
    return seconds


def check_status_port(port: int) -> int:
    """The status port, or an error when the agent could not serve on it."""
    if not 0 < port < 65536:
        raise ProxyConfigError(f"statusPort {port} is not a port (1-65535)")
    if port in _TAKEN_BY_ENVOY:
        taken = ", ".join(str(p) for p in sorted(_TAKEN_BY_ENVOY))
        raise ProxyConfigError(
            f"statusPort {port} is reserved for Envoy ({taken}); "
            "choose another status.sidecar.istio.io/port or statusPort"
        )
    return port


def check_concurrency(workers: int) -> int:
    if workers < 0:
        raise ProxyConfigError(f"concurrency {workers} must be >= 0 (0: one worker per core)")
    return workers


def parse(text: str) -> ProxyConfig:
    """The settings in `text` (PROXY_CONFIG's value); empty means all defaults."""
    try:
        document = yamlio.load_json(text or "{}")
    except ValueError as error:
        raise ProxyConfigError(f"{mesh.PROXY_CONFIG_ENV} is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise ProxyConfigError(f"{mesh.PROXY_CONFIG_ENV} must be a JSON object")
    try:
        return ProxyConfig(
            status_port=check_status_port(_integer(document, "statusPort", mesh.STATUS_PORT)),
            concurrency=check_concurrency(_integer(document, "concurrency", DEFAULT_CONCURRENCY)),
            drain_seconds=_drain_seconds(document.get("terminationDrainDuration")),
        )
    except ValueError as error:
        raise ProxyConfigError(f"{mesh.PROXY_CONFIG_ENV}: {error}") from None


def _integer(document: Mapping[str, object], key: str, default: int) -> int:
    value = document.get(key)
    if value is None:  # absent or null: unset, as protobuf wrappers read it
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProxyConfigError(f"{key} {value!r} is not an integer")
    return value


def _drain_seconds(value: object) -> float:
    if value is None:
        return parse_duration(DEFAULT_DRAIN)
    if not isinstance(value, str):
        raise ProxyConfigError(f"terminationDrainDuration {value!r} is not a duration")
    try:
        return parse_duration(value)
    except ValueError as error:
        raise ProxyConfigError(f"terminationDrainDuration {error}") from None
