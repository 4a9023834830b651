"""App probes on the status port: kubelet asks the agent, the agent asks the app.

The injector moved each container probe into `ISTIO_KUBE_APP_PROBERS` (path -> original probe).
HTTP and TCP probes dial the pod IP from 127.0.0.6, which the capture rules never redirect, so the
app sees the probe directly, as without a sidecar.
"""

import asyncio
import http.client
import logging
import math
import re
import ssl
import string
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from webhooks import mesh, yamlio

logger = logging.getLogger(__name__)

BODY_LIMIT = 10 * 1024
DEFAULT_TIMEOUT_SECONDS = 1.0  # Kubernetes' default timeoutSeconds
# Hop-by-hop and connection headers are ours to set, not the kubelet's to forward.
_NOT_FORWARDED = frozenset({"connection", "keep-alive", "content-length", "transfer-encoding"})
# RFC 9110 field names are tokens; Kubernetes refuses any other httpHeaders name.
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Field values may not hold control characters other than tab (RFC 9110 5.5); Go's http client,
# which the kubelet uses, refuses them too.
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class ProbeConfigError(ValueError):
    """ISTIO_KUBE_APP_PROBERS cannot be used; the message says which entry and why."""


@dataclass(frozen=True)
class AppProbe:
    kind: mesh.ProbeAction
    port: int
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    path: str = "/"
    https: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    service: str = ""


@dataclass(frozen=True)
class ProbeResult:
    status: int
    body: bytes = b""


def parse_probers(text: str) -> dict[str, AppProbe]:
    if not text.strip():
        return {}
    try:
        document = yamlio.load_json(text)
    except ValueError as error:
        raise ProbeConfigError(f"{mesh.APP_PROBERS_ENV} is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise ProbeConfigError(f"{mesh.APP_PROBERS_ENV} must be a JSON object of path -> probe")
    return {path: _probe(path, entry) for path, entry in document.items()}


def _probe(path: str, entry: Any) -> AppProbe:
    if not mesh.PROBE_PATH_PATTERN.match(path):
        raise _error(repr(path), "is not an app probe path")
    if not isinstance(entry, dict):
        raise _error(path, f"must be a JSON object, not {_json_type(entry)}")
    kinds = [k for k in mesh.PROBE_ACTIONS if k in entry]
    if len(kinds) != 1:
        raise _error(path, "needs exactly one probe kind")
    kind = kinds[0]
    action = entry[kind] if entry[kind] is not None else {}
    if not isinstance(action, dict):
        raise _error(path, f"{kind} must be a JSON object, not {_json_type(action)}")
    port = action.get("port")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise _error(path, f"has no numeric port ({port!r})")
    return AppProbe(
        kind=kind,
        port=port,
        timeout=_timeout(path, entry.get("timeoutSeconds")),
        path=_text(path, action, "path") or "/",
        https=_text(path, action, "scheme").upper() == "HTTPS",
        headers=_headers(path, action.get("httpHeaders")),
        service=_text(path, action, "service"),
    )


def _error(path: str, what: str) -> ProbeConfigError:
    return ProbeConfigError(f"{mesh.APP_PROBERS_ENV}: {path} {what}")


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    return names.get(type(value), "null" if value is None else "a number")


def _timeout(path: str, value: object) -> float:
    if value is None or value == 0:  # unset: Kubernetes' default
        return DEFAULT_TIMEOUT_SECONDS
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise _error(path, f"timeoutSeconds {value!r} is not a number of seconds")
    return float(value)


def _text(path: str, action: Mapping[str, object], key: str) -> str:
    value = action.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _error(path, f"{key} {value!r} is not a string")
    return value


def _headers(path: str, headers: object) -> tuple[tuple[str, str], ...]:
    if headers is None:
        return ()
    if not isinstance(headers, list):
        raise _error(path, f"httpHeaders must be an array, not {_json_type(headers)}")
    pairs = []
    for index, header in enumerate(headers):
        name = header.get("name") if isinstance(header, dict) else None
        value = header.get("value", "") if isinstance(header, dict) else None
        if not isinstance(name, str) or not name or not isinstance(value, str):
            raise _error(
                path, f"httpHeaders[{index}] needs a string name and value, not {header!r}"
            )
        if not HEADER_NAME.fullmatch(name):
            raise _error(path, f"httpHeaders[{index}] name {name!r} is not an HTTP header name")
        if CONTROL_CHARACTER.search(value):
            raise _error(path, f"httpHeaders[{index}] value {value!r} has a control character")
        pairs.append((name, value))
    return tuple(pairs)


def request_target(path: str) -> str:
    """`path` as the kubelet sends it: with a leading "/" (Go's URL adds it to `healthz`),
    non-ASCII (as UTF-8), space and control characters percent-encoded, so http.client can
    send it; %-escapes and ASCII punctuation are kept."""
    path = path if path.startswith("/") else f"/{path}"
    return urllib.parse.quote(path, safe=string.punctuation)


@dataclass
class AppProber:
    probes: Mapping[str, AppProbe]
    pod_ip: str
    source_ip: str = mesh.INBOUND_PASSTHROUGH_IP
    status_port: int = mesh.STATUS_PORT
    _tls: ssl.SSLContext = field(default_factory=ssl._create_unverified_context, repr=False)

    async def check(self, path: str, request_headers: Mapping[str, str]) -> ProbeResult:
        probe = self.probes.get(path)
        if probe is None:
            return ProbeResult(400, f"app prober config does not exist for {path}\n".encode())
        try:
            return await asyncio.wait_for(self._dispatch(probe, request_headers), probe.timeout)
        except TimeoutError:
            return ProbeResult(500, f"probe timed out after {probe.timeout:g}s\n".encode())
        except (OSError, http.client.HTTPException, ValueError) as error:
            # ValueError: http.client refusing a header or target; a failed probe, not a crash.
            return ProbeResult(500, f"probe failed: {error}\n".encode())

    async def _dispatch(self, probe: AppProbe, headers: Mapping[str, str]) -> ProbeResult:
        if probe.kind == "httpGet":
            return await asyncio.to_thread(self._http, probe, headers)
        if probe.kind == "tcpSocket":
            _, writer = await asyncio.open_connection(
                self.pod_ip, probe.port, local_addr=(self.source_ip, 0)
            )
            writer.close()
            return ProbeResult(200)
        return await self._grpc(probe)

    def _http(self, probe: AppProbe, incoming: Mapping[str, str]) -> ProbeResult:
        source = (self.source_ip, 0)
        connection: http.client.HTTPConnection
        if probe.https:
            connection = http.client.HTTPSConnection(
                self.pod_ip, probe.port, timeout=probe.timeout, source_address=source,
                context=self._tls,
            )  # fmt: skip
        else:
            connection = http.client.HTTPConnection(
                self.pod_ip, probe.port, timeout=probe.timeout, source_address=source
            )
        try:
            target = request_target(probe.path)
            connection.request("GET", target, headers=self._headers(probe, incoming))
            response = connection.getresponse()
            body = response.read(BODY_LIMIT)
        finally:
            connection.close()
        status = 200 if 300 <= response.status < 400 else response.status  # kubelet: 3xx passes
        return ProbeResult(status, body)

    def _headers(self, probe: AppProbe, incoming: Mapping[str, str]) -> dict[str, bytes]:
        # The status server decoded the kubelet's bytes as latin-1: encoding back gives the same
        # bytes. The probe's own values go out as UTF-8, as the kubelet (Go) sends them, and
        # replace the forwarded ones of the same name: the rewritten probe keeps its
        # httpHeaders, so the kubelet sent them too (Istio's Header.Set, not a second copy).
        own = {name.lower() for name, _ in probe.headers}
        headers = {
            k: v.encode("latin-1")
            for k, v in incoming.items()
            if k.lower() not in _NOT_FORWARDED and k.lower() not in own
        }
        host = headers.pop("host", None)  # the status server lower-cases header names
        if host and not host.endswith(f":{self.status_port}".encode()):
            headers["Host"] = host  # a Host naming the status port would mislead the app
        headers.update((name, value.encode()) for name, value in probe.headers)
        headers["Connection"] = b"close"  # kubelet does not keep probe connections alive
        return headers

    async def _grpc(self, probe: AppProbe) -> ProbeResult:
        # Imported on first use: most pods have no gRPC probe and grpcio is large.
        import grpc
        from grpc_health.v1 import (
            health_pb2,
            health_pb2_grpc,
        )

        async with grpc.aio.insecure_channel(f"{self.pod_ip}:{probe.port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                reply = await stub.Check(
                    health_pb2.HealthCheckRequest(service=probe.service), timeout=probe.timeout
                )
            except grpc.aio.AioRpcError as error:
                return ProbeResult(500, f"probe failed: {error.code().name}\n".encode())
        if reply.status == health_pb2.HealthCheckResponse.SERVING:
            return ProbeResult(200)
        name = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        return ProbeResult(500, f"probe failed: {name}\n".encode())
