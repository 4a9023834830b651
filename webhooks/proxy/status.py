"""The agent's status server on 15020: readiness, app probes, merged metrics, drain and quit.

A small HTTP/1.1 server on asyncio streams: it runs in every pod, so it costs no web framework.
Each connection carries one request and is closed, as kubelet and Prometheus expect.
"""

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus

from webhooks import mesh
from webhooks.proxy.metrics import MetricsMerger
from webhooks.proxy.probes import CONTROL_CHARACTER, HEADER_NAME, AppProber

logger = logging.getLogger(__name__)

HEAD_LIMIT = 16 * 1024
READ_TIMEOUT_SECONDS = 10.0
_LOCAL_PEERS = frozenset({"127.0.0.1", "::1"})
_ORIGIN_FORM = re.compile(r"/[!-~]*")  # a request target is visible ASCII (RFC 9112 3.2)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"


@dataclass
class StatusRoutes:
    prober: AppProber
    merger: MetricsMerger
    is_ready: Callable[[], Awaitable[bool]]
    is_draining: Callable[[], bool]
    drain: Callable[[], Awaitable[None]]
    quit: Callable[[], None]

    async def handle(
        self, method: str, target: str, headers: dict[str, str], peer: str
    ) -> Response:
        # Origin form: a path and a query. Not urlsplit, which reads `//host/...` as a host.
        path, _, query = target.partition("?")
        if path == "/healthz/ready":
            return await self._ready()
        if path in (mesh.PROMETHEUS_MERGED_PATH, "/metrics"):
            body, content_type = await self.merger.merged(query, headers)
            return Response(200, body, content_type)
        if path.startswith(("/app-health/", "/app-lifecycle/")):
            result = await self.prober.check(path, headers)
            return Response(result.status, result.body)
        if path in ("/drain", "/quitquitquit"):
            return await self._admin(method, path, peer)
        return Response(404, b"not found\n")

    async def _ready(self) -> Response:
        if self.is_draining():
            return Response(503, b"draining\n")
        if await self.is_ready():
            return Response(200)
        return Response(503, b"envoy is not ready\n")

    async def _admin(self, method: str, path: str, peer: str) -> Response:
        if method != "POST":
            return Response(405, b"use POST\n")
        if peer not in _LOCAL_PEERS:
            return Response(403, b"only from localhost\n")
        if path == "/drain":
            await self.drain()
        else:
            self.quit()
        return Response(200)


async def serve(routes: StatusRoutes, host: str, port: int) -> asyncio.Server:
    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            response = await _respond(routes, reader, writer)
            writer.write(_encode(response))
            await writer.drain()
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(
        on_connection, host, port, reuse_address=True, limit=HEAD_LIMIT
    )


async def _respond(
    routes: StatusRoutes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> Response:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_SECONDS)
    except asyncio.LimitOverrunError:
        return Response(431, b"request head too large\n")
    lines = head[: -len(b"\r\n\r\n")].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[1].startswith("/"):
        return Response(400, b"malformed request line\n")
    if not _ORIGIN_FORM.fullmatch(parts[1]):
        return Response(400, b"malformed request target\n")
    headers = {}
    for line in lines[1:]:
        # A line that is not `token: value` (a bare LF or CR in it, a name with spaces or
        # non-ASCII, an obsolete folded line) is refused: it cannot be forwarded to the app.
        name, sep, value = line.partition(":")
        if not sep or not HEADER_NAME.fullmatch(name) or CONTROL_CHARACTER.search(value):
            return Response(400, b"malformed header line\n")
        headers[name.lower()] = value.strip(" \t")
    peer = writer.get_extra_info("peername")[0]
    try:
        return await routes.handle(parts[0], parts[1], headers, peer)
    except Exception:  # one bad request must not take the status server down
        logger.exception("status request failed", extra={"path": parts[1]})
        return Response(500, b"internal error\n")


def _encode(response: Response) -> bytes:
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:  # an app's own status code, passed through
        reason = "Status"
    head = (
        f"HTTP/1.1 {response.status} {reason}\r\n"
        f"Content-Type: {response.content_type}\r\n"
        f"Content-Length: {len(response.body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + response.body
