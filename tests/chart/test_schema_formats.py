"""values.schema.json refuses exactly the injection strings the injector's loader refuses."""

import re
from collections.abc import Callable
from typing import Any

import helm_python as helm
import pytest
import yaml
from hypothesis import example, given, settings, strategies as st

from tests.chart.conftest import inject_config, schema_accepts
from tests.chart.render import CHART, SCHEMA, render, schema_text
from webhooks.inject import formats
from webhooks.inject.config import ConfigError, parse_config

BAD = [
    (("traffic", "interceptionMode"), "TPROXY"),
    (("traffic", "includeOutboundIPRanges"), "10.0.0.0/33"),
    (("traffic", "excludeOutboundIPRanges"), "*"),
    (("traffic", "includeInboundPorts"), "80,http"),
    (("traffic", "excludeInboundPorts"), "0"),
    (("traffic", "includeOutboundPorts"), "65536"),
    (("traffic", "excludeOutboundPorts"), "*"),
    (("traffic", "excludeInterfaces"), "eth0,a-name-longer-than-15"),
    (("statusPort",), 15090),
    (("statusPort",), 15000),
    (("logLevel",), "verbose"),
    (("componentLogLevel",), "misc:loud"),
    (("terminationDrainDuration",), "5 seconds"),
]
GOOD = [
    (("traffic", "interceptionMode"), "NONE"),
    (("traffic", "includeOutboundIPRanges"), " 10.0.0.0/8, fd00::/8 ,"),
    (("traffic", "excludeOutboundIPRanges"), "192.168.0.1,10.0.0.0/255.0.0.0"),
    (("traffic", "includeInboundPorts"), "*"),
    (("traffic", "excludeInboundPorts"), "15020, 8080"),
    (("traffic", "excludeInterfaces"), "eth1,lo"),
    (("statusPort",), 15021 + 1),
    (("logLevel",), "warn"),
    (("componentLogLevel",), "misc:error,upstream:debug"),
    (("terminationDrainDuration",), "1m30s"),
]


def _inject(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    node: dict[str, Any] = {path[-1]: value}
    for key in reversed(path[:-1]):
        node = {key: node}
    return {"inject": node}


def test_schema_definitions_are_current() -> None:
    assert SCHEMA.read_text() == schema_text(SCHEMA.read_text()), (
        f"{SCHEMA} is stale: run `make manifests`"
    )


@pytest.mark.parametrize(("path", "value"), BAD, ids=lambda x: str(x))
def test_a_bad_injection_value_is_refused_naming_its_key(path: tuple[str, ...], value: Any) -> None:
    with pytest.raises(helm.HelmValuesError) as raised:
        render(_inject(path, value))
    assert f"at '/inject/{'/'.join(path)}'" in str(raised.value)
    # ... and the loader refuses it too, so the schema is not stricter for nothing.
    with pytest.raises(ConfigError, match=re.escape(f"config: {'.'.join(path)}: ")):
        parse_config(yaml.safe_dump(_inject(path, value)["inject"]))


@pytest.mark.parametrize(("path", "value"), GOOD, ids=lambda x: str(x))
def test_a_valid_injection_value_renders_and_loads(path: tuple[str, ...], value: Any) -> None:
    config = parse_config(inject_config(_inject(path, value)), "rendered ConfigMap")
    node: Any = config
    for key in path:
        node = getattr(node, next(n for n, f in type(node).model_fields.items() if f.alias == key))
    assert node == value


# Where each list definition is used, so a value can be checked through the chart's schema.
_SLOTS: dict[str, tuple[tuple[str, ...], Callable[[str], object]]] = {
    "portListOrStar": (("traffic", "includeInboundPorts"), formats.port_list_or_star),
    "portList": (("traffic", "excludeInboundPorts"), formats.port_list),
    "cidrListOrStar": (("traffic", "includeOutboundIPRanges"), formats.cidr_list_or_star),
    "cidrList": (("traffic", "excludeOutboundIPRanges"), formats.cidr_list),
    "interfaceList": (("traffic", "excludeInterfaces"), formats.interfaces),
    "componentLogLevel": (("componentLogLevel",), formats.component_log_level),
}


def _agree(definition: str, value: str) -> None:
    path, check = _SLOTS[definition]
    try:
        check(value)
        loader_accepts = True
    except ValueError:
        loader_accepts = False
    assert schema_accepts(_inject(path, value)) == loader_accepts, (definition, value)


_SPACES = st.sampled_from(" \t\n\x0b\x1c\x85\xa0\u2003")
_PORTS = st.lists(
    st.one_of(st.integers(0, 70000).map(str), st.sampled_from(["*", "", "007", "x", "-1"])),
    max_size=4,
)
_ADDRESSES = st.one_of(
    st.ip_addresses().map(str),
    st.tuples(st.ip_addresses(), st.integers(0, 130)).map(lambda t: f"{t[0]}/{t[1]}"),
    st.text(alphabet="0123456789abcdef.:/%*e", max_size=14),
)


def _joined(items: st.SearchStrategy[list[str]]) -> st.SearchStrategy[str]:
    return st.tuples(items, _SPACES).map(lambda t: ",".join(f"{t[1]}{i}" for i in t[0]))


@settings(max_examples=60, deadline=None)
@given(_joined(_PORTS))
@example("*")
@example(" * ")
@example("80,,443")
@example("0080")
def test_schema_and_loader_agree_on_port_lists(value: str) -> None:
    _agree("portList", value)
    _agree("portListOrStar", value)


@settings(max_examples=60, deadline=None)
@given(_joined(st.lists(_ADDRESSES, max_size=3)))
@example("10.0.0.0/255.0.0.0")
@example("10.0.0.0/255.0.255.0")
@example("10.0.0.0/08")
@example("010.0.0.0")
@example("fe80::1%eth0")
@example("fe80::1% ")
@example("fe80::1% /64")
@example("1::2:3:4:5:6:7:8")
@example("::ffff:1.2.3.4/96")
@example(":1.2.3.4")
def test_schema_and_loader_agree_on_cidr_lists(value: str) -> None:
    _agree("cidrList", value)
    _agree("cidrListOrStar", value)


@settings(max_examples=60, deadline=None)
@given(
    _joined(
        st.lists(
            st.tuples(
                st.text(alphabet="ab :", max_size=3), st.sampled_from(formats.ENVOY_LOG_LEVELS)
            ).map(lambda t: f"{t[0]}:{t[1]}")
            | st.text(alphabet="ab:io", max_size=5),
            max_size=3,
        )
    )
)
@example(" :info")
@example("a :info")
@example("misc:error:x")
def test_schema_and_loader_agree_on_component_log_levels(value: str) -> None:
    _agree("componentLogLevel", value)


@settings(max_examples=40, deadline=None)
@given(_joined(st.lists(st.text(alphabet="eth0_.:@-/ ", max_size=17), max_size=3)))
def test_schema_and_loader_agree_on_interfaces(value: str) -> None:
    _agree("interfaceList", value)


def test_every_default_injection_value_renders_and_loads() -> None:
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())["inject"]
    config = parse_config(inject_config(), "rendered ConfigMap")
    dumped = config.model_dump(by_alias=True, mode="json")
    for key, value in defaults.items():
        if isinstance(value, dict) and key in ("traffic", "readiness"):
            assert {k: dumped[key][k] for k in value} == value
        elif isinstance(value, list):
            assert list(dumped[key]) == value
        else:
            assert dumped[key] == value, key
