import asyncio
import logging
import re
from pathlib import Path

import pytest
import yaml

from webhooks.inject import config as inject_config
from webhooks.inject.config import ConfigError, ConfigStore, InjectConfig, resolve_native_sidecars

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
        ("- a list", "mapping"),
        ("policy: [unclosed", "YAML"),
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
