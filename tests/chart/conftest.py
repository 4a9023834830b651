import functools
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest

from tests.chart.render import CHART, RELEASE, Document, render

KUBE_VERSION = kubernetes_validate.latest_version()

# Value combinations users are expected to install; each has a golden file.
SCENARIOS: dict[str, dict[str, Any]] = {
    "default": {},
    "cert-manager": {"certificates": {"mode": "cert-manager"}},
    "cert-manager-issuer": {
        "certificates": {
            "mode": "cert-manager",
            "certManager": {"issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer"}},
        }
    },
    "external": {
        "certificates": {"mode": "external", "external": {"secretName": "my-tls"}},
        "webhook": {"caBundle": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="},
    },
    "url": {
        "webhook": {
            "url": "https://127.0.0.1:9443",
            "caBundle": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==",
        }
    },
    "revision": {"revision": "canary"},
    "hpa": {"autoscaling": {"enabled": True}},
    "everything-on": {
        "webhook": {
            "injection": {"enableNamespacesByDefault": True},
            "validation": {"failClosed": False},
        },
        "networkPolicy": {"enabled": True, "apiserverCIDRs": ["10.0.0.0/8"]},
        "priorityClassName": "system-cluster-critical",
        "imagePullSecrets": [{"name": "registry"}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
        "podLabels": {"team": "mesh"},
        "serviceAccount": {"annotations": {"example.com/role": "webhooks"}},
    },
}


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[Document]]:
    return {name: render(values) for name, values in SCENARIOS.items()}


def objects(documents: list[Document], kind: str) -> list[dict[str, Any]]:
    return [document.obj for document in documents if document.kind == kind]


def one(documents: list[Document], kind: str) -> dict[str, Any]:
    found = objects(documents, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def configmap_file(documents: list[Document], name: str, key: str) -> str:
    """`data[key]` of the one ConfigMap called `name`."""
    [configmap] = [d.obj for d in documents if d.kind == "ConfigMap" and d.name == name]
    return str(configmap["data"][key])


def inject_config(values: dict[str, Any] | None = None, name: str = RELEASE) -> str:
    """config.yaml of the injection ConfigMap the chart renders with `values`."""
    return configmap_file(render(values, name=name), f"{name}-inject", "config.yaml")


@functools.cache
def _loaded_chart() -> helm.Chart:
    return helm.Chart.load(CHART)


def schema_accepts(values: dict[str, Any]) -> bool:
    """Whether values.schema.json accepts `values` (the chart is loaded once per session, not
    once per hypothesis example)."""
    try:
        _loaded_chart().validate_schema(values)
    except helm.HelmValuesError:
        return False
    return True
