"""The agent's inputs from the injector: app probers and scrape targets."""

import json
from pathlib import Path

import pytest

from webhooks import cli
from webhooks.proxy import metrics, probes
from webhooks.proxy.metrics import Target
from webhooks.proxy.probes import AppProbe


def test_probers_as_the_injector_writes_them() -> None:
    text = json.dumps(
        {
            "/app-health/hello/readyz": {
                "httpGet": {"path": "/ip", "port": 8000, "scheme": "HTTPS",
                            "httpHeaders": [{"name": "X-A", "value": "1"}]},
                "timeoutSeconds": 3,
            },
            "/app-lifecycle/hello/poststartz": {"tcpSocket": {"port": 93}},
            "/app-health/foo/startupz": {"grpc": {"port": 1234, "service": None}},
        }
    )  # fmt: skip
    assert probes.parse_probers(text) == {
        "/app-health/hello/readyz": AppProbe(
            "httpGet", 8000, 3.0, "/ip", https=True, headers=(("X-A", "1"),)
        ),
        "/app-lifecycle/hello/poststartz": AppProbe("tcpSocket", 93),
        "/app-health/foo/startupz": AppProbe("grpc", 1234),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "is not JSON"),
        ("[" * 5000, "is not JSON: maximum recursion depth"),
        ("[]", "must be a JSON object"),
        ('{"/healthz": {"tcpSocket": {"port": 1}}}', "is not an app probe path"),
        ('{"/app-health/a/prestopz": {"tcpSocket": {"port": 1}}}', "is not an app probe path"),
        ('{"/app-lifecycle/a/readyz": {"tcpSocket": {"port": 1}}}', "is not an app probe path"),
        ('{"/app-health/a/readyz": {}}', "needs exactly one probe kind"),
        ('{"/app-health/a/readyz": {"httpGet": {"port": "http"}}}', "has no numeric port"),
    ],
)
def test_bad_probers_are_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(probes.ProbeConfigError, match=message):
        probes.parse_probers(text)


@pytest.mark.parametrize(
    ("text", "targets"),
    [
        ("", ()),
        ('{"scrape":"false","path":"/metrics","port":"8080"}', ()),
        ('{"scrape":"true","path":"/metrics","port":"8080"}', (Target(8080, "/metrics"),)),
        ('{"scrape":"","path":"","port":""}', (Target(80, "/metrics"),)),
        (
            '{"scrape":"true","path":"/m","port":"8080","targets":'
            '[{"port":"8080","path":"/m"},{"port":"9100","path":"custom"}]}',
            (Target(8080, "/m"), Target(9100, "/custom")),
        ),
    ],
)
def test_scrape_targets(text: str, targets: tuple[Target, ...]) -> None:
    assert metrics.parse_targets(text) == targets


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "is not JSON"),
        ("[" * 5000, "is not JSON: maximum recursion depth"),
        ('{"port":"15090"}', "reserved"),
        ('{"port":"x"}', "bad port"),
    ],
)
def test_bad_scrape_config_is_refused(text: str, message: str) -> None:
    with pytest.raises(metrics.ScrapeConfigError, match=message):
        metrics.parse_targets(text)


def test_scraping_the_status_port_is_refused_wherever_it_is() -> None:
    """The agent serves the merged metrics there: scraping it would scrape itself."""
    moved = '{"scrape":"true","port":"15555"}'
    assert metrics.parse_targets(moved) == (Target(15555, "/metrics"),)
    with pytest.raises(metrics.ScrapeConfigError, match="port 15555 is reserved"):
        metrics.parse_targets(moved, status_port=15555)


def _headed(header: str) -> str:
    return f'{{"/app-health/web/readyz": {{"httpGet": {{"port": 80, "httpHeaders": [{header}]}}}}}}'


def _timed(timeout: str) -> str:
    return (
        f'{{"/app-health/web/readyz": {{"httpGet": {{"port": 80}}, "timeoutSeconds": {timeout}}}}}'
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"/app-health/web/readyz": "x"}', "/app-health/web/readyz must be a JSON object"),
        ('{"/app-health/web/readyz": {"httpGet": "x"}}', "httpGet must be a JSON object"),
        ('{"/app-health/web/readyz": {"tcpSocket": [1]}}', "tcpSocket must be a JSON object"),
        ('{"/app-health/web/readyz": {"httpGet": {"port": true}}}', "has no numeric port"),
        (
            '{"/app-health/web/readyz": {"httpGet": {"port": 80, "httpHeaders": [{"value": ""}]}}}',
            r"/app-health/web/readyz httpHeaders\[0\] needs a string name and value",
        ),
        (
            '{"/app-health/web/readyz": {"httpGet": {"port": 80, "httpHeaders": ["X-A: 1"]}}}',
            r"httpHeaders\[0\] needs a string name",
        ),
        (
            '{"/app-health/web/readyz": {"httpGet": {"port": 80, "httpHeaders": {"X-A": "1"}}}}',
            "httpHeaders must be an array",
        ),
        # Kubernetes refuses a header name that is not an HTTP token; http.client cannot send it.
        (
            _headed('{"name": "X A:", "value": "v"}'),
            r"/app-health/web/readyz httpHeaders\[0\] name 'X A:' is not an HTTP header name",
        ),
        (_headed('{"name": "X-\u00e9", "value": "v"}'), "name 'X-é' is not an HTTP header name"),
        (
            _headed('{"name": "X-A", "value": "a\\nb"}'),
            r"httpHeaders\[0\] value 'a\\nb' has a control character",
        ),
        (
            _timed('"3s"'),
            "/app-health/web/readyz timeoutSeconds '3s' is not a number of seconds",
        ),
        (
            _timed("-1"),
            "timeoutSeconds -1 is not a number",
        ),
        (
            _timed("Infinity"),
            "timeoutSeconds inf is not a number",
        ),
        (
            '{"/app-health/web/readyz": {"httpGet": {"port": 80, "path": 5}}}',
            "/app-health/web/readyz path 5 is not a string",
        ),
        (
            '{"/app-health/web/readyz": {"grpc": {"port": 80, "service": 1}}}',
            "service 1 is not a string",
        ),
    ],
)
def test_malformed_probers_name_the_entry(text: str, message: str) -> None:
    with pytest.raises(probes.ProbeConfigError, match=f"^ISTIO_KUBE_APP_PROBERS: .*{message}"):
        probes.parse_probers(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"targets": [8080]}', r"targets\[0\] must be an object with port and path"),
        ('{"targets": [{"port": "8080"}, "x"]}', r"targets\[1\] must be an object"),
        ('{"targets": "8080"}', "targets must be an array"),
        ('{"targets": [{"port": [8080]}]}', r"targets\[0\]: bad port \[8080\]"),
        ('{"targets": [{"port": "8080", "path": {}}]}', r"targets\[0\]: path \{\} is not a string"),
        ('{"port": true}', "target: bad port True"),
    ],
)
def test_malformed_scrape_targets_name_the_entry(text: str, message: str) -> None:
    with pytest.raises(
        metrics.ScrapeConfigError, match=f"^ISTIO_PROMETHEUS_ANNOTATIONS: {message}"
    ):
        metrics.parse_targets(text)


def test_integer_scrape_ports_are_accepted() -> None:
    assert metrics.parse_targets('{"targets": [{"port": 9100}]}') == (Target(9100, "/metrics"),)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"ISTIO_KUBE_APP_PROBERS": '{"/app-health/web/readyz": {"httpGet": "x"}}'},
            "ISTIO_KUBE_APP_PROBERS: /app-health/web/readyz httpGet must be a JSON object",
        ),
        (
            {
                "ISTIO_KUBE_APP_PROBERS": json.dumps(
                    {"/app-health/web/livez": {"tcpSocket": {"port": 1}, "timeoutSeconds": "x"}}
                )
            },
            "ISTIO_KUBE_APP_PROBERS: /app-health/web/livez timeoutSeconds 'x' is not a number",
        ),
        (
            {"ISTIO_PROMETHEUS_ANNOTATIONS": '{"targets": [1]}'},
            "ISTIO_PROMETHEUS_ANNOTATIONS: targets[0] must be an object",
        ),
        (
            {"ISTIO_KUBE_APP_PROBERS": _headed('{"name": "X A:", "value": "v"}')},
            "ISTIO_KUBE_APP_PROBERS: /app-health/web/readyz httpHeaders[0] name 'X A:' is not",
        ),
    ],
)
def test_agent_reports_malformed_input_in_one_line_and_exits_2(
    env: dict[str, str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("ISTIO_KUBE_APP_PROBERS", "ISTIO_PROMETHEUS_ANNOTATIONS", "PROXY_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = cli.main(["agent", "--envoy-binary", "/nonexistent/envoy", "--workdir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"mesh-webhooks agent: {message}"), err
    assert err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--status-port", "15000"], {}, "statusPort 15000 is reserved for Envoy"),
        ([], {"PROXY_CONFIG": "{"}, "PROXY_CONFIG is not JSON"),
        (["--port-offset", "60000"], {}, "--port-offset 60000 moves a port outside 1-65535"),
    ],
)
def test_agent_drain_reports_a_bad_status_port_in_one_line_and_exits_2(
    argv: list[str],
    env: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("PROXY_CONFIG", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["agent", "drain", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mesh-webhooks agent drain: "), err
    assert message in err, err
    assert err.count("\n") == 1, err
