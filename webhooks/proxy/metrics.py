"""Merged Prometheus metrics: the agent's own, then Envoy's, then the app's.

The app comes last because an OpenMetrics body must end with `# EOF`. A failed scrape is
counted and skipped; the response is still served.
"""

import asyncio
import http.client
import logging
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from webhooks import mesh, numbers, yamlio

logger = logging.getLogger(__name__)

APP_BODY_LIMIT = 10 * 1024 * 1024
DEFAULT_SCRAPE_TIMEOUT = 10.0
# Prometheus's scrape timeout cannot exceed its scrape interval, a few minutes at most in
# practice; the cap keeps a header like `1e300` from overflowing the socket and asyncio timeouts.
MAX_SCRAPE_TIMEOUT = 600.0
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"
_EOF = b"# EOF"  # OpenMetrics' last line
_FORWARDED = ("accept", "user-agent", "x-prometheus-scrape-timeout-seconds")


class ScrapeConfigError(ValueError):
    """ISTIO_PROMETHEUS_ANNOTATIONS cannot be used; the message says why."""


@dataclass(frozen=True)
class Target:
    port: int
    path: str


def parse_targets(text: str, status_port: int = mesh.STATUS_PORT) -> tuple[Target, ...]:
    """The app's scrape targets from the injector's JSON; none when scraping is off.

    The proxy's ports and the status port are refused: the agent would scrape itself."""
    if not text.strip():
        return ()
    try:
        config = yamlio.load_json(text)
    except ValueError as error:
        raise ScrapeConfigError(f"{mesh.PROMETHEUS_ANNOTATIONS_ENV} is not JSON: {error}") from None
    if not isinstance(config, dict) or str(config.get("scrape", "")).lower() == "false":
        return ()
    entries = config.get("targets")
    if not entries:  # one target: the annotations themselves
        return (_target(config, "target", status_port),)
    if not isinstance(entries, list):
        raise _error(f"targets must be an array, not {entries!r}")
    return tuple(_target(entry, f"targets[{i}]", status_port) for i, entry in enumerate(entries))


def _error(what: str) -> ScrapeConfigError:
    return ScrapeConfigError(f"{mesh.PROMETHEUS_ANNOTATIONS_ENV}: {what}")


def _target(entry: object, key: str, status_port: int) -> Target:
    if not isinstance(entry, dict):
        raise _error(f"{key} must be an object with port and path, not {entry!r}")
    port, path = entry.get("port"), entry.get("path")
    if isinstance(port, bool) or not isinstance(port, str | int | None):
        raise _error(f"{key}: bad port {port!r}")
    port_text = str(port or "80")
    number = numbers.whole_number(port_text)
    if number is None or not 0 < number < 65536:
        raise _error(f"{key}: bad port {port_text!r}")
    if number in mesh.RESERVED_PORTS or number == status_port:
        raise _error(f"{key}: port {port_text} is reserved for the proxy")
    if not isinstance(path, str | None):
        raise _error(f"{key}: path {path!r} is not a string")
    path = path or "/metrics"
    return Target(number, path if path.startswith("/") else "/" + path)


@dataclass
class MetricsMerger:
    envoy_port: int
    targets: tuple[Target, ...]
    app_host: str = "127.0.0.1"
    scrapes: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)

    async def merged(self, query: str, headers: Mapping[str, str]) -> tuple[bytes, str]:
        forwarded = {k: v for k, v in headers.items() if k in _FORWARDED}
        timeout = _timeout(forwarded)
        suffix = f"?{query}" if query else ""
        envoy = ("127.0.0.1", self.envoy_port)
        jobs = [self._scrape("envoy", envoy, f"/stats/prometheus{suffix}", {}, timeout)]
        jobs += [
            self._scrape("app", (self.app_host, t.port), t.path, forwarded, timeout)
            for t in self.targets
        ]
        results = await asyncio.gather(*jobs)
        content_type = next((ct for _, ct in results[1:] if ct), TEXT_FORMAT)
        parts = [self.own_metrics(), *(body for body, _ in results)]
        # OpenMetrics ends with "# EOF" and allows nothing after it: one at the very end, not
        # one per app (Prometheus would refuse the whole scrape, Envoy's metrics included).
        split = [_without_eof(part) for part in parts]
        eof = _EOF + b"\n" if any(ended for _, ended in split) else b""
        merged = b"".join(p if p.endswith(b"\n") or not p else p + b"\n" for p, _ in split)
        return merged + eof, content_type

    async def _scrape(
        self,
        source: str,
        address: tuple[str, int],
        path: str,
        headers: dict[str, str],
        seconds: float,
    ) -> tuple[bytes, str]:
        self.scrapes[source] += 1
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(_get, address, path, headers, seconds), seconds
            )
        except (
            OSError,
            TimeoutError,
            http.client.HTTPException,
            ValueError,
            _ScrapeFailed,
        ) as error:
            # ValueError: http.client refused a header or the target; a failed scrape, no crash.
            self.failures[source] += 1
            logger.warning("scrape failed", extra={"source": source, "error": str(error)})
            return b"", ""

    def own_metrics(self) -> bytes:
        lines = []
        for name, counter in (("scrapes", self.scrapes), ("scrape_failures", self.failures)):
            lines.append(f"# TYPE mesh_agent_{name}_total counter")
            lines += [
                f'mesh_agent_{name}_total{{source="{source}"}} {counter[source]}'
                for source in ("envoy", "app")
            ]
        return ("\n".join(lines) + "\n").encode()


def _without_eof(body: bytes) -> tuple[bytes, bool]:
    """`body` without its OpenMetrics "# EOF" line, and whether it had one."""
    text = body.removesuffix(b"\n")
    return (text.removesuffix(_EOF), True) if text.endswith(_EOF) else (body, False)


class _ScrapeFailed(Exception):
    pass


def _get(
    address: tuple[str, int], path: str, headers: dict[str, str], timeout: float
) -> tuple[bytes, str]:
    connection = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        try:
            body = response.read(APP_BODY_LIMIT + 1)
        finally:
            response.close()  # a body left unread still holds the socket
    finally:
        connection.close()
    if response.status != 200:
        raise _ScrapeFailed(f"{path} on port {address[1]} answered {response.status}")
    if len(body) > APP_BODY_LIMIT:  # a body cut mid-line would spoil the whole scrape
        raise _ScrapeFailed(f"{path} on port {address[1]}: more than {APP_BODY_LIMIT} bytes")
    return body, response.getheader("content-type", "")


def _timeout(headers: Mapping[str, str]) -> float:
    """Prometheus's scrape timeout; the default when it is absent, not a number, not positive,
    not finite or above MAX_SCRAPE_TIMEOUT."""
    try:
        seconds = float(headers["x-prometheus-scrape-timeout-seconds"])
    except (KeyError, ValueError):
        return DEFAULT_SCRAPE_TIMEOUT
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_SCRAPE_TIMEOUT):
        return DEFAULT_SCRAPE_TIMEOUT
    return seconds
