import asyncio
import logging
import re
from pathlib import Path

import pytest
import yaml

from tests.unit.inject.factories import pod, request
from webhooks.inject import config as inject_config
from webhooks.inject.config import ConfigError, ConfigStore, InjectConfig, resolve_native_sidecars
from webhooks.inject.handler import make_handler

DEFAULT_FILE = Path(inject_config.__file__).with_name("default-config.yaml")
DOCS = Path(__file__).parents[3] / "docs" / "injection.md"


def _keys(model: type[InjectConfig], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        alias = field.alias or name
        keys.add(prefix + alias)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, inject_config._Model):
            keys |= _keys(annotation, f"{prefix}{alias}.")  # type: ignore[arg-type]
    return keys


def test_the_committed_default_file_is_the_built_in_default() -> None:
    assert inject_config.default_config() == InjectConfig()
    assert inject_config.load_config(DEFAULT_FILE) == InjectConfig()


def test_the_default_file_spells_out_every_key() -> None:
    document = yaml.safe_load(DEFAULT_FILE.read_text())
    flat = {k for k, v in document.items()} | {
        f"{k}.{sub}" for k, v in document.items() if isinstance(v, dict) for sub in v
    }
    assert _keys(InjectConfig) - {"proxyResources.requests", "proxyResources.limits"} <= flat


def test_every_key_is_documented() -> None:
    documented = set(re.findall(r"`([a-zA-Z.]+)`", DOCS.read_text()))
    nested = {"proxyResources.requests", "proxyResources.limits"}  # documented as a map
    missing = {
        key
        for key in _keys(InjectConfig) - nested
        if key not in documented and not any(d.startswith(f"{key}.") for d in documented)
    }
    assert not missing


def test_an_empty_file_means_all_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("")
    assert inject_config.load_config(path) == InjectConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("policy: sometimes", "policy"),
        ("statusPort: 0", "statusPort"),
        ("nativeSidecars: perhaps", "nativeSidecars"),
        ("unknownKey: 1", "unknownKey"),
        ("proxyResources: {limits: {memory: lots}}", "memory"),
        ("neverInjectSelector: [{matchExpressions: [{key: a, operator: Near}]}]", "operator"),
        ("traffic: {includeOutboundIpRanges: '*'}", "includeOutboundIpRanges"),
        ("proxyCommand: []", "proxyCommand"),
        ("statusPort: 15000", "statusPort"),
        ("statusPort: 15001", "reserved for the proxy"),
        ("statusPort: 15006", "reserved for the proxy"),
        ("statusPort: 15021", "reserved for the proxy"),
        ("statusPort: 15090", "reserved for the proxy"),
        (
            "traffic: {excludeInboundPorts: abc}",
            "traffic.excludeInboundPorts: 'abc' is not a port (1-65535)",
        ),
        ("traffic: {excludeInboundPorts: '80,²'}", "'²' is not a port"),
        ("traffic: {includeInboundPorts: '80,*'}", "traffic.includeInboundPorts"),
        ("traffic: {includeOutboundPorts: '70000'}", "traffic.includeOutboundPorts"),
        ("traffic: {excludeOutboundPorts: 1-2}", "traffic.excludeOutboundPorts"),
        ("traffic: {includeOutboundIPRanges: not-a-cidr}", "'not-a-cidr' is not a CIDR"),
        ("traffic: {excludeOutboundIPRanges: '*'}", "traffic.excludeOutboundIPRanges"),
        ("traffic: {excludeInterfaces: 'eth 0'}", "traffic.excludeInterfaces"),
        ("traffic: {interceptionMode: TPROXY}", "TPROXY is not supported"),
        ("traffic: {interceptionMode: MAGIC}", "traffic.interceptionMode"),
        ("logLevel: loud", "logLevel"),
        ("componentLogLevel: http", "componentLogLevel"),
        ("componentLogLevel: 'http:loud'", "componentLogLevel"),
        ("terminationDrainDuration: soon", "terminationDrainDuration"),
        ("terminationDrainDuration: 5", "terminationDrainDuration"),
        ("terminationDrainDuration: ²s", "terminationDrainDuration"),
        ("readiness: {periodSeconds: 2147483648}", "readiness.periodSeconds"),
        ("readiness: {startupFailureThreshold: 0}", "readiness.startupFailureThreshold"),
        ("revision: ''", "revision"),
        ("revision: canary/1", "revision"),
        ("revision: -canary", "revision"),
        ("revision: " + "r" * 64, "revision"),
        ("proxyResources: {requests: {cpu: '\u0661'}}", "cpu"),
        (
            "proxyResources: {requests: {cpu: '4'}, limits: {cpu: 2000m}}",
            "proxyResources: requests.cpu '4' is above limits.cpu '2000m'",
        ),
        (
            "neverInjectSelector: [{matchExpressions: [{key: team, operator: NotIn}]}]",
            "operator NotIn needs values",
        ),
        (
            "alwaysInjectSelector: [{matchExpressions: [{key: a, operator: Exists, values: [x]}]}]",
            "operator Exists takes no values",
        ),
        ("- a list", "mapping"),
        ("policy: [unclosed", "YAML"),
        ("policy: " + "[" * 5000, "YAML nested too deeply"),
    ],
)
def test_invalid_files_are_refused_with_a_clear_error(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        inject_config.load_config(path)
    assert str(path) in str(error.value)


def test_valid_values_of_the_checked_fields_load() -> None:
    text = """
    revision: canary-1.2_x
    statusPort: 15999
    logLevel: debug
    componentLogLevel: "http:trace, upstream:debug"
    terminationDrainDuration: 1m30.5s
    traffic:
      interceptionMode: NONE
      includeOutboundIPRanges: 10.0.0.0/8, fd00::/8
      excludeOutboundIPRanges: 10.96.0.1
      includeInboundPorts: 80,443
      excludeInboundPorts: "8081"
      includeOutboundPorts: ""
      excludeOutboundPorts: "3306"
      excludeInterfaces: eth1,lo
    """
    config = inject_config.parse_config(text)
    assert (config.revision, config.status_port, config.traffic.interception_mode) == (
        "canary-1.2_x",
        15999,
        "NONE",
    )
    assert config.traffic.include_outbound_ip_ranges == "10.0.0.0/8, fd00::/8"


def test_a_bad_traffic_value_keeps_the_last_good_config_and_pods_still_inject(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("traffic: {excludeInboundPorts: '8081'}\n")
    store = ConfigStore(path)
    for bad in ("excludeInboundPorts: abc", "includeOutboundIPRanges: not-a-cidr"):
        path.write_text(f"traffic: {{{bad}}}\n")
        assert store.reload() is False
        assert store.get().traffic.exclude_inbound_ports == "8081"
        response = make_handler(store.get)(request(pod()))
        assert response.allowed is True
        assert response.patch is not None


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        inject_config.load_config(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("mode", "version", "native"),
    [
        ("auto", None, False),
        ("auto", (1, 28), False),
        ("auto", (1, 29), True),
        ("auto", (2, 0), True),
        ("true", None, True),
        ("false", (1, 33), False),
    ],
)
def test_resolve_native_sidecars(
    mode: inject_config.NativeMode, version: tuple[int, int] | None, native: bool
) -> None:
    assert resolve_native_sidecars(mode, version) is native


def test_the_store_swaps_in_a_valid_change_and_keeps_the_last_good_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("revision: one\n")
    store = ConfigStore(path)
    assert store.get().revision == "one"
    assert store.reload() is False  # unchanged
    path.write_text("revision: two\n")
    assert store.reload() is True
    assert store.get().revision == "two"
    path.write_text("revision: three\npolicy: never\n")
    with caplog.at_level(logging.ERROR):
        assert store.reload() is False
    assert store.get().revision == "two"
    assert "keeping the previous one" in caplog.text
    path.unlink()
    assert store.reload() is False
    assert store.get().revision == "two"


def test_a_file_that_turns_empty_keeps_the_config_and_an_empty_map_resets_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("")  # at start there is nothing to keep: empty means every default
    assert ConfigStore(path).get() == InjectConfig()
    path.write_text("revision: one\npolicy: disabled\n")
    store = ConfigStore(path)
    for empty in ("", "# nothing yet\n"):
        path.write_text(empty)
        with caplog.at_level(logging.ERROR):
            assert store.reload() is False
        assert (store.get().revision, store.get().policy) == ("one", "disabled")
        assert caplog.records[-1].error == f"{path}: empty (write {{}} for every default)"
    path.write_text("{}\n")
    assert store.reload() is True
    assert store.get() == InjectConfig()


def test_the_store_refuses_to_start_from_an_invalid_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("policy: never\n")
    with pytest.raises(ConfigError):
        ConfigStore(path)


def test_the_watcher_picks_up_changes(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("revision: one\n")
    store = ConfigStore(path)

    async def scenario() -> str:
        watcher = asyncio.ensure_future(store.watch(interval=0.01))
        path.write_text("revision: two\n")
        for _ in range(200):
            await asyncio.sleep(0.01)
            if store.get().revision == "two":
                break
        watcher.cancel()
        return store.get().revision

    assert asyncio.run(scenario()) == "two"
