"""Values: documented, schema-checked, and consumed by the components exactly as they load them."""

from typing import Any

import helm_python as helm
import pytest
import yaml
from hypothesis import given, strategies as st

from tests.chart.conftest import configmap_file, inject_config, one, schema_accepts
from tests.chart.render import (
    CHART,
    CHART_BOOTSTRAP,
    MANIFEST,
    PACKAGED_BOOTSTRAP,
    README,
    manifest_text,
    readme_text,
    render,
    undocumented,
    value_docs,
)
from webhooks.inject.config import InjectConfig, parse_config
from webhooks.inject.formats import is_quantity

VALUES_TEXT = (CHART / "values.yaml").read_text()
CHART_DERIVED_INJECT_KEYS = {"revision", "bootstrapConfigMap"}
STALE = "is stale: run `make manifests`"


def test_manifests_are_the_current_default_render() -> None:
    assert MANIFEST.read_text() == manifest_text(render()), f"{MANIFEST} {STALE}"


def test_readme_values_table_is_current() -> None:
    assert README.read_text() == readme_text(README.read_text(), VALUES_TEXT), f"{README} {STALE}"


def test_chart_bootstrap_is_the_packaged_one() -> None:
    assert CHART_BOOTSTRAP.read_text() == PACKAGED_BOOTSTRAP.read_text(), (
        f"{CHART_BOOTSTRAP} {STALE}"
    )


def test_every_value_is_documented() -> None:
    assert undocumented(VALUES_TEXT) == []


def test_undocumented_values_are_found() -> None:
    assert undocumented("# documented\na: 1\nb:\n  c: 2\n") == ["b.c"]


def _schema_node(schema: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    node: dict[str, Any] | None = schema
    for key in path:
        node = node.get("properties", {}).get(key) if node is not None else None
    return node


def test_every_documented_value_is_in_the_schema() -> None:
    with helm.Chart.load(CHART) as chart:
        schema = chart.schema
    assert schema is not None
    missing = [
        ".".join(doc.path)
        for doc in value_docs(VALUES_TEXT)
        if doc.description and _schema_node(schema, doc.path) is None
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": "two"}, "at '/replicaCount': got string, want integer"),
        ({"revision": "Canary_1"}, "at '/revision'"),
        ({"certificates": {"mode": "vault"}}, "at '/certificates/mode'"),
        ({"webhook": {"injection": {"timeoutSeconds": 60}}}, "maximum: got 60, want 30"),
        (
            {"webhook": {"injection": {"failurePolicy": "fail"}}},
            "at '/webhook/injection/failurePolicy'",
        ),
        ({"webhook": {"url": "http://insecure:80"}}, "at '/webhook/url'"),
        ({"webhook": {"url": "https://127.0.0.1:9443"}}, "at '/webhook/caBundle'"),
        ({"certificates": {"mode": "external"}}, "at '/certificates/external/secretName'"),
        ({"networkPolicy": {"enabled": True}}, "at '/networkPolicy/apiserverCIDRs'"),
        ({"inject": {"policy": "sometimes"}}, "at '/inject/policy'"),
        ({"inject": {"proxyResources": {"limits": {"cpu": "lots"}}}}, "limits/cpu"),
        ({"inject": {"proxyImage": ""}}, "at '/inject/proxyImage'"),
        ({"replicas": 3}, "additional properties 'replicas' not allowed"),
        (
            {"networkPolicy": {"enabled": True, "apiserverCIDRs": ["10.0.0.1"]}},
            "at '/networkPolicy/apiserverCIDRs/0'",
        ),
        (
            {"podDisruptionBudget": {"minAvailable": "abc"}},
            "at '/podDisruptionBudget/minAvailable'",
        ),
        (
            {"certificates": {"certManager": {"issuerRef": {"kind": "ClusterIssuer"}}}},
            "missing property 'name'",
        ),
        (
            {"webhook": {"injection": {"excludedNamespaces": ["Bad_NS"]}}},
            "at '/webhook/injection/excludedNamespaces/0'",
        ),
    ],
)
def test_bad_values_are_refused_with_the_offending_key(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmValuesError) as raised:
        render(values)
    assert message in str(raised.value)


def test_rendered_injection_config_is_accepted_by_the_injector() -> None:
    config = parse_config(inject_config(), "rendered ConfigMap")
    assert config.bootstrap_config_map == "mesh-webhooks-bootstrap"
    assert config.revision == "default"
    defaults = yaml.safe_load(VALUES_TEXT)["inject"]
    assert config.proxy_image == defaults["proxyImage"]
    assert config.ignored_namespaces == tuple(defaults["ignoredNamespaces"])


def test_injection_values_reach_the_injector() -> None:
    values = {
        "revision": "canary",
        "inject": {
            "policy": "disabled",
            "nativeSidecars": "false",
            "imagePullPolicy": "Always",
            "concurrency": 2,
            "proxyResources": {"requests": {"cpu": "50m"}, "limits": {"memory": "256Mi"}},
            "neverInjectSelector": [{"matchLabels": {"job": "batch"}}],
            "traffic": {"excludeOutboundPorts": "5432"},
        },
    }
    config = parse_config(inject_config(values, name="canary"), "rendered ConfigMap")
    assert (config.revision, config.policy, config.native_sidecars) == (
        "canary",
        "disabled",
        "false",
    )
    assert config.bootstrap_config_map == "canary-bootstrap"
    assert (config.image_pull_policy, config.concurrency) == ("Always", 2)
    assert config.proxy_resources.requests["cpu"] == "50m"
    assert config.never_inject_selector[0].matches({"job": "batch"})
    assert config.traffic.exclude_outbound_ports == "5432"


def test_chart_exposes_every_injection_setting() -> None:
    aliases = {field.alias or name for name, field in InjectConfig.model_fields.items()}
    exposed = set(yaml.safe_load(VALUES_TEXT)["inject"])
    assert exposed == aliases - CHART_DERIVED_INJECT_KEYS


def test_bootstrap_configmap_ships_the_packaged_bootstrap_or_an_override() -> None:
    def bootstrap(values: dict[str, Any] | None) -> str:
        return configmap_file(render(values), "mesh-webhooks-bootstrap", "bootstrap.yaml")

    assert bootstrap(None) == PACKAGED_BOOTSTRAP.read_text()
    override = "node:\n  id: custom\n"
    assert bootstrap({"bootstrap": override}) == override


@given(st.text(alphabet="0123456789.eEkKmMGgiu+-", min_size=1, max_size=8))
def test_schema_and_injector_agree_on_quantities(quantity: str) -> None:
    values = {"inject": {"proxyResources": {"requests": {"cpu": quantity}}}}
    assert schema_accepts(values) == is_quantity(quantity)


def test_deployment_mounts_the_rendered_injection_configmap() -> None:
    documents = render()
    volumes = one(documents, "Deployment")["spec"]["template"]["spec"]["volumes"]
    names = {d.name for d in documents if d.kind == "ConfigMap"}
    assert {v["configMap"]["name"] for v in volumes if "configMap" in v} <= names
