from typing import Any

import kubernetes_validate
import pytest

from tests.chart.render import Document, render

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
