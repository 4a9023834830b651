"""PROXY_CONFIG as the agent reads it: the status port, Envoy's concurrency, the drain time."""

import json
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from webhooks import cli, mesh
from webhooks.inject import config as inject_config, formats
from webhooks.proxy import agent_command, proxy_config
from webhooks.proxy.envoy import EnvoyOptions
from webhooks.proxy.proxy_config import ProxyConfig

ENVOY_PORTS = sorted(mesh.RESERVED_PORTS - {mesh.STATUS_PORT})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ProxyConfig(mesh.STATUS_PORT, 2, 5.0)),
        ("{}\n", ProxyConfig(mesh.STATUS_PORT, 2, 5.0)),
        # what the injector writes for the defaults and for a pod that sets everything
        (
            '{"statusPort":15020,"terminationDrainDuration":"5s",'
            '"holdApplicationUntilProxyStarts":false}',
            ProxyConfig(mesh.STATUS_PORT, 2, 5.0),
        ),
        (
            '{"statusPort":15555,"terminationDrainDuration":"1m30s","concurrency":4,'
            '"discoveryAddress":"ignored:15012"}',
            ProxyConfig(15555, 4, 90.0),
        ),
        # Istio: unset or null runs 2 workers, 0 lets Envoy use every core
        ('{"concurrency":null}', ProxyConfig(concurrency=2)),
        ('{"concurrency":0}', ProxyConfig(concurrency=0)),
        ('{"statusPort":null}', ProxyConfig(status_port=mesh.STATUS_PORT)),
    ],
)
def test_parse(text: str, expected: ProxyConfig) -> None:
    assert proxy_config.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "^PROXY_CONFIG is not JSON"),
        ("[" * 5000, "^PROXY_CONFIG is not JSON: maximum recursion depth"),
        ("[]", "must be a JSON object"),
        ('{"statusPort":"15030"}', "^PROXY_CONFIG: statusPort '15030' is not an integer$"),
        ('{"statusPort":true}', "statusPort True is not an integer"),
        ('{"statusPort":0}', r"statusPort 0 is not a port \(1-65535\)"),
        ('{"statusPort":65536}', "statusPort 65536 is not a port"),
        ('{"concurrency":-1}', "concurrency -1 must be >= 0"),
        ('{"concurrency":1.5}', "concurrency 1.5 is not an integer"),
        ('{"terminationDrainDuration":"soon"}', "terminationDrainDuration 'soon' is not a dura"),
        ('{"terminationDrainDuration":5}', "terminationDrainDuration 5 is not a duration"),
    ],
)
def test_bad_values_are_refused_by_name(text: str, message: str) -> None:
    with pytest.raises(proxy_config.ProxyConfigError, match=message):
        proxy_config.parse(text)


@pytest.mark.parametrize("port", ENVOY_PORTS)
def test_status_port_on_an_envoy_port_is_refused(port: int) -> None:
    with pytest.raises(proxy_config.ProxyConfigError, match=f"statusPort {port} is reserved"):
        proxy_config.parse(json.dumps({"statusPort": port}))


@given(st.integers(1, 65535).filter(lambda p: p not in ENVOY_PORTS))
def test_any_other_port_is_a_status_port(port: int) -> None:
    assert proxy_config.parse(json.dumps({"statusPort": port})).status_port == port


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5s", 5.0), ("1m30s", 90.0), ("250ms", 0.25), ("1.5s", 1.5), ("7", 7.0), ("1h", 3600.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert proxy_config.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "five", "5x", "s5", "\u0663s", "\u0663"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        proxy_config.parse_duration(text)


HUGE = "9" * 400 + "s"  # float() of it is inf: Envoy's --drain-time-s would be ceil(inf)


@pytest.mark.parametrize("text", [HUGE, "9" * 400, "25h", "24h1ns", "86401", "1441m"])
def test_durations_over_a_day_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=f"^'{text}' is longer than 24h$"):
        proxy_config.parse_duration(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("24h", 86400), ("1440m", 86400), ("86400", 86400), ("23h59m59.5s", 86399.5)],
)
def test_durations_up_to_a_day_are_accepted(text: str, seconds: float) -> None:
    assert proxy_config.parse_duration(text) == seconds


def test_a_huge_drain_in_proxy_config_is_refused_by_name() -> None:
    with pytest.raises(
        proxy_config.ProxyConfigError,
        match=f"^PROXY_CONFIG: terminationDrainDuration '{HUGE}' is longer than 24h$",
    ):
        proxy_config.parse(json.dumps({"terminationDrainDuration": HUGE}))


@pytest.mark.parametrize("text", ["24h", "1m30.5s", "500ms"])
def test_the_injector_accepts_what_the_agent_accepts(text: str) -> None:
    assert formats.duration(text) == text
    assert inject_config.parse_config(f"terminationDrainDuration: {text}")


@pytest.mark.parametrize("text", [HUGE, "25h", "24h1ns"])
def test_the_injector_refuses_a_drain_the_agent_would_refuse(text: str) -> None:
    """The injection config file: refused there rather than a sidecar that exits 2 at start."""
    with pytest.raises(ValueError, match=r"^want a duration of at most 24h$"):
        formats.duration(text)
    with pytest.raises(
        inject_config.ConfigError,
        match=r"terminationDrainDuration: want a duration of at most 24h$",
    ):
        inject_config.parse_config(f"terminationDrainDuration: {text}")


# The agent command: flags override PROXY_CONFIG, which overrides the defaults.


def _settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str | None, *flags: str
) -> tuple[int, int, float]:
    for name in (mesh.APP_PROBERS_ENV, mesh.PROMETHEUS_ANNOTATIONS_ENV, mesh.PROXY_CONFIG_ENV):
        monkeypatch.delenv(name, raising=False)
    if config is not None:
        monkeypatch.setenv(mesh.PROXY_CONFIG_ENV, config)
    argv = ["agent", "--workdir", str(tmp_path), "--podinfo-dir", str(tmp_path), *flags]
    args = cli.build_parser(argv).parse_args(argv)
    settings = agent_command.settings_from(args)
    return settings.status_port, settings.concurrency, settings.drain_seconds


def test_agent_settings_follow_proxy_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _settings(tmp_path, monkeypatch, None) == (15020, 2, 5.0)
    config = '{"statusPort":15555,"concurrency":0,"terminationDrainDuration":"7s"}'
    assert _settings(tmp_path, monkeypatch, config) == (15555, 0, 7.0)
    flags = ("--status-port", "16000", "--concurrency", "1", "--drain-duration", "2s")
    assert _settings(tmp_path, monkeypatch, config, *flags) == (16000, 1, 2.0)


@pytest.mark.parametrize(
    ("config", "flags", "message"),
    [
        ('{"statusPort":15021}', (), "PROXY_CONFIG: statusPort 15021 is reserved for Envoy"),
        (None, ("--status-port", "15090"), "statusPort 15090 is reserved for Envoy"),
        (None, ("--concurrency", "-2"), "concurrency -2 must be >= 0"),
        ('{"concurrency":"2"}', (), "PROXY_CONFIG: concurrency '2' is not an integer"),
        (None, ("--drain-duration", HUGE), f"--drain-duration '{HUGE}' is longer than 24h"),
        (None, ("--drain-duration", "soon"), "--drain-duration 'soon' is not a duration"),
        (None, ("--port-offset", "60000"), "--port-offset 60000 moves a port outside 1-65535"),
        (None, ("--port-offset", "-15000"), "--port-offset -15000 moves a port outside"),
    ],
)
def test_agent_refuses_to_start_with_a_clear_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    config: str | None,
    flags: tuple[str, ...],
    message: str,
) -> None:
    monkeypatch.delenv(mesh.PROXY_CONFIG_ENV, raising=False)
    if config is not None:
        monkeypatch.setenv(mesh.PROXY_CONFIG_ENV, config)
    argv = ["agent", "--envoy-binary", "/nonexistent/envoy", "--workdir", str(tmp_path), *flags]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.startswith(f"mesh-webhooks agent: {message}")


@pytest.mark.parametrize(
    ("concurrency", "expected"),
    [(2, ["--concurrency", "2"]), (1, ["--concurrency", "1"]), (0, [])],
)
def test_envoy_command_line_concurrency(concurrency: int, expected: list[str]) -> None:
    """0 leaves --concurrency off: Envoy then runs one worker per hardware thread."""
    command = EnvoyOptions("envoy", "/c.json", 5, concurrency=concurrency).command()
    flag = command[command.index("--concurrency") :][:2] if "--concurrency" in command else []
    assert flag == expected
