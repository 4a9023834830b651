"""The status server's admin paths: /drain and /quitquitquit act only on a POST from localhost."""

import asyncio

import pytest

from webhooks.proxy.metrics import MetricsMerger
from webhooks.proxy.probes import AppProber
from webhooks.proxy.status import StatusRoutes


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
