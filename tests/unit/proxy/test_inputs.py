"""The agent's inputs from the injector: app probers and scrape targets."""

import json

import pytest

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
        ("[]", "must be a JSON object"),
        ('{"/healthz": {"tcpSocket": {"port": 1}}}', "is not an app probe path"),
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
    [("{", "is not JSON"), ('{"port":"15090"}', "reserved"), ('{"port":"x"}', "bad port")],
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
