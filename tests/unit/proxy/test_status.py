"""The status server: /drain and /quitquitquit act only on a POST from localhost; a request that
is not valid HTTP is a 400."""

import asyncio

import pytest

from webhooks.proxy.metrics import MetricsMerger
from webhooks.proxy.probes import AppProber
from webhooks.proxy.status import StatusRoutes, serve


def routes(calls: list[str]) -> StatusRoutes:
    async def drain() -> None:
        calls.append("drain")

    async def is_ready() -> bool:
        return True

    return StatusRoutes(
        prober=AppProber({}, "127.0.0.1"),
        merger=MetricsMerger(envoy_port=0, targets=()),
        is_ready=is_ready,
        is_draining=lambda: False,
        drain=drain,
        quit=lambda: calls.append("quit"),
    )


@pytest.mark.parametrize(("path", "action"), [("/drain", "drain"), ("/quitquitquit", "quit")])
@pytest.mark.parametrize("peer", ["127.0.0.1", "::1"])
def test_a_local_post_acts(path: str, action: str, peer: str) -> None:
    calls: list[str] = []
    response = asyncio.run(routes(calls).handle("POST", path, {}, peer))
    assert (response.status, calls) == (200, [action])


@pytest.mark.parametrize("path", ["/drain", "/quitquitquit"])
@pytest.mark.parametrize(
    ("method", "peer", "status"),
    [("POST", "10.244.1.7", 403), ("POST", "127.0.0.6", 403), ("GET", "127.0.0.1", 405)],
)
def test_anything_else_is_refused_and_does_nothing(
    path: str, method: str, peer: str, status: int
) -> None:
    calls: list[str] = []
    response = asyncio.run(routes(calls).handle(method, path, {}, peer))
    assert (response.status, calls) == (status, [])


@pytest.mark.parametrize("target", ["//x/healthz/ready", "//[x/healthz/ready", "//127.0.0.1/drain"])
def test_a_target_starting_with_two_slashes_is_a_path_not_a_host(target: str) -> None:
    """An origin-form target is a path: `//x/healthz/ready` is not /healthz/ready on host x."""
    calls: list[str] = []
    response = asyncio.run(routes(calls).handle("POST", target, {}, "127.0.0.1"))
    assert (response.status, calls) == (404, [])


async def _exchange(raw: bytes) -> bytes:
    server = await serve(routes([]), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(raw)
        response = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return response
    finally:
        server.close()


@pytest.mark.parametrize(
    ("raw", "answer"),
    [
        (b"GET /healthz/ready HTTP/1.1\r\nX-A: a\nb\r\n\r\n", b"malformed header line"),
        (b"GET /healthz/ready HTTP/1.1\r\nX-A: a\rb\r\n\r\n", b"malformed header line"),
        (b"GET /healthz/ready HTTP/1.1\r\nX-\xe9: 1\r\n\r\n", b"malformed header line"),
        (b"GET /healthz/ready HTTP/1.1\r\nX A: 1\r\n\r\n", b"malformed header line"),
        (b"GET /healthz/ready HTTP/1.1\r\nX-A : 1\r\n\r\n", b"malformed header line"),
        (b"GET /healthz/ready HTTP/1.1\r\nno colon\r\n\r\n", b"malformed header line"),
        (b"GET /stats/prometheus?\xe9 HTTP/1.1\r\n\r\n", b"malformed request target"),
        (b"GET /healthz/ready\x01 HTTP/1.1\r\n\r\n", b"malformed request target"),
    ],
)
def test_a_request_that_is_not_valid_http_is_a_400(raw: bytes, answer: bytes) -> None:
    """Such a header could not be forwarded to the app (http.client refuses it): a 400, not a
    500 with a traceback."""
    response = asyncio.run(_exchange(raw))
    assert response.startswith(b"HTTP/1.1 400 Bad Request\r\n"), response
    assert response.endswith(answer + b"\n")


def test_a_valid_request_is_still_served() -> None:
    raw = b"GET /healthz/ready HTTP/1.1\r\nHost: x\r\nX-A:\t\xe9 b \r\n\r\n"
    assert asyncio.run(_exchange(raw)).startswith(b"HTTP/1.1 200 OK\r\n")
