"""What the agent sends to the app: probe requests as the kubelet would send them, and requests
http.client refuses counted as failed probes or scrapes, never a crash."""

import asyncio
import contextlib
import http.server
import json
import math
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from webhooks.proxy import metrics, probes
from webhooks.proxy.metrics import MetricsMerger
from webhooks.proxy.probes import AppProber


@dataclass
class Seen:
    path: str = ""
    headers: dict[str, bytes] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)  # every header line's name, repeats kept


class _Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def _serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    """`handler` serving on 127.0.0.1, in a thread, for the block; yields its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def app() -> Iterator[tuple[int, Seen]]:
    """An app on 127.0.0.1 answering 200, recording the last request as raw bytes."""
    seen = Seen()

    class Handler(_Quiet):
        def do_GET(self) -> None:
            seen.path = self.path
            # http.server decodes header bytes as latin-1: encoding back gives the raw bytes.
            seen.headers = {k.lower(): v.encode("latin-1") for k, v in self.headers.items()}
            seen.names = [k.lower() for k in self.headers]
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    with _serving(Handler) as port:
        yield port, seen


def _probe(port: int, **action: object) -> AppProber:
    entry = {"/app-health/web/readyz": {"httpGet": {"port": port, **action}}}
    return AppProber(probes.parse_probers(json.dumps(entry)), "127.0.0.1", "127.0.0.1")


def _check(prober: AppProber, headers: dict[str, str] | None = None) -> probes.ProbeResult:
    return asyncio.run(prober.check("/app-health/web/readyz", headers or {}))


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("/h\u00e9alth", "/h%C3%A9alth"),  # the kubelet (Go) percent-encodes non-ASCII as UTF-8
        ("/a b", "/a%20b"),
        ("/a%2Fb;p?x=1&y=%20", "/a%2Fb;p?x=1&y=%20"),  # escapes and punctuation are kept
        ("/ready", "/ready"),
        ("healthz", "/healthz"),  # Kubernetes allows it; the kubelet's Go URL adds the "/"
    ],
)
def test_the_probe_path_is_sent_percent_encoded(
    app: tuple[int, Seen], path: str, sent: str
) -> None:
    port, seen = app
    assert _check(_probe(port, path=path)).status == 200
    assert seen.path == sent


def test_probe_header_values_are_sent_as_utf8(app: tuple[int, Seen]) -> None:
    """As the kubelet sends them; a value outside latin-1 used to fail every probe."""
    port, seen = app
    prober = _probe(port, httpHeaders=[{"name": "X-Euro", "value": "\u20ac"}])
    assert _check(prober).status == 200
    assert seen.headers["x-euro"] == "\u20ac".encode()


def test_forwarded_header_bytes_reach_the_app_unchanged(app: tuple[int, Seen]) -> None:
    """The status server decodes the head as latin-1; the kubelet's bytes go out as they came."""
    port, seen = app
    assert _check(_probe(port), {"x-a": "caf\u00e9"}).status == 200
    assert seen.headers["x-a"] == b"caf\xe9"


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "\u20ac"])
def test_a_header_http_client_refuses_is_a_failed_probe(app: tuple[int, Seen], value: str) -> None:
    """The status server refuses such headers; should one reach the prober, it is a 500 with
    the reason, not an exception."""
    port, _ = app
    result = _check(_probe(port), {"x-a": value})
    assert result.status == 500
    assert result.body.startswith(b"probe failed: ")


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port nothing listens on (bound, so no one else takes it during the test)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("\u00e9", {}),  # not ASCII: http.client cannot send it
        ("", {"x-prometheus-scrape-timeout-seconds": "1e300"}),  # overflows the socket timeout
        ("", {"x-prometheus-scrape-timeout-seconds": "inf"}),
        ("", {"x-prometheus-scrape-timeout-seconds": "nan"}),
    ],
)
def test_a_scrape_that_cannot_be_sent_is_a_counted_failure(
    closed_port: int, query: str, headers: dict[str, str]
) -> None:
    merger = MetricsMerger(envoy_port=closed_port, targets=())
    body, _ = asyncio.run(merger.merged(query, headers))
    assert 'mesh_agent_scrapes_total{source="envoy"} 1' in body.decode()
    assert merger.failures["envoy"] == 1


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2.5", 2.5),
        (str(metrics.MAX_SCRAPE_TIMEOUT), metrics.MAX_SCRAPE_TIMEOUT),
        ("1e300", metrics.DEFAULT_SCRAPE_TIMEOUT),
        ("inf", metrics.DEFAULT_SCRAPE_TIMEOUT),
        ("-inf", metrics.DEFAULT_SCRAPE_TIMEOUT),
        ("nan", metrics.DEFAULT_SCRAPE_TIMEOUT),
        ("0", metrics.DEFAULT_SCRAPE_TIMEOUT),
        ("-1", metrics.DEFAULT_SCRAPE_TIMEOUT),
        ("soon", metrics.DEFAULT_SCRAPE_TIMEOUT),
    ],
)
def test_the_scrape_timeout_header_is_used_only_when_sane(value: str, seconds: float) -> None:
    timeout = metrics._timeout({"x-prometheus-scrape-timeout-seconds": value})
    assert math.isfinite(timeout)
    assert timeout == seconds


@pytest.mark.parametrize("name", ["Authorization", "host"])
def test_a_probe_header_the_kubelet_also_sent_reaches_the_app_once(
    app: tuple[int, Seen], name: str
) -> None:
    """The rewritten probe keeps its httpHeaders, so the kubelet sends them to the agent too;
    the app must get one copy (two Authorization values are joined, two Hosts refused)."""
    port, seen = app
    prober = _probe(port, httpHeaders=[{"name": name, "value": "Bearer x"}])
    assert _check(prober, {name.lower(): "Bearer x", "x-other": "1"}).status == 200
    assert seen.names.count(name.lower()) == 1
    assert seen.headers[name.lower()] == b"Bearer x"
    assert seen.headers["x-other"] == b"1"


@contextlib.contextmanager
def _metrics_app(body: bytes, content_type: str) -> Iterator[int]:
    """An app answering every GET with `body`."""

    class Handler(_Quiet):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with _serving(Handler) as port:
        yield port


OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def test_several_openmetrics_targets_merge_with_one_eof_at_the_end(closed_port: int) -> None:
    """Prometheus refuses anything after "# EOF": one per app spoiled the whole scrape."""
    with (
        _metrics_app(b"# TYPE a counter\na_total 1\n# EOF\n", OPENMETRICS) as first,
        _metrics_app(b"# TYPE b counter\nb_total 2\n# EOF", OPENMETRICS) as second,
    ):
        targets = (metrics.Target(first, "/metrics"), metrics.Target(second, "/metrics"))
        merger = MetricsMerger(envoy_port=closed_port, targets=targets)
        body, content_type = asyncio.run(merger.merged("", {}))
    assert content_type == OPENMETRICS
    lines = body.decode().splitlines()
    assert lines.count("# EOF") == 1
    assert lines[-1] == "# EOF"
    assert "a_total 1" in lines
    assert "b_total 2" in lines


def test_an_app_body_over_the_limit_is_a_failure_not_a_cut(
    closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut mid-line, the last sample would spoil the whole scrape: the app's part is dropped."""
    monkeypatch.setattr(metrics, "APP_BODY_LIMIT", 20)
    with _metrics_app(b"a_total 1\nb_total 22222222222\n", metrics.TEXT_FORMAT) as app:
        merger = MetricsMerger(envoy_port=closed_port, targets=(metrics.Target(app, "/metrics"),))
        body, _ = asyncio.run(merger.merged("", {}))
    assert merger.failures["app"] == 1
    assert b"a_total" not in body
