"""The agent's inputs from the injector: app probers, scrape targets, durations."""

import json

import pytest

from webhooks.proxy import agent_command, metrics, probes
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


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5s", 5.0), ("1m30s", 90.0), ("250ms", 0.25), ("1.5s", 1.5), ("7", 7.0), ("1h", 3600.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert agent_command.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "five", "5x", "s5"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        agent_command.parse_duration(text)
