"""Rejections: invalid resources refused through real kubectl with Istio's webhook message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from e2e import mesh
from e2e.kubectl import Kubectl

pytestmark = pytest.mark.e2e

CORPUS = mesh.ROOT.parent / "shared" / "corpus" / "istio" / "crds"
HAND_WRITTEN = Path(__file__).parent / "manifests" / "webhook-invalid.yaml"
DENIED = 'admission webhook "validation.istio.io" denied the request: '
INVALID = DENIED + "configuration is invalid: "

# Documents of Istio's *-invalid.yaml that pass the CRD schemas, so the webhook is what refuses
# them (their `_err` is the schema layer's text in Istio, so the expected text is ours here).
CORPUS_CASES = [
    ("authz", "service-account-and-namespace", "cannot set serviceAccounts with namespaces"),
    ("envoyfilter", "waypoint-wrong-match", "only support waypointMatch when context is WAYPOINT"),
    ("peerauth", "port-level-global", "peer authentication cannot have port level mTLS"),
    ("proxyconfig", "bad-concurrency", "concurrency must be greater than or equal to 0"),
    ("reqauth", "invalid-jwks", 'URI scheme "" is not supported (spec.jwtRules[0].jwksUri)'),
    ("serviceentry", "duplicate-ports-number", "service entry port 1 already defined"),
    ("telemetry", "bad-tag-upsert", "tagOverrides.value must be set when operation is UPSERT"),
    ("wasm", "invalid-url-schema", "url contains unsupported scheme: fake (spec.url)"),
    ("workloadentry", "uds-with-ports", "unix endpoint unix://@foo must not include ports"),
    ("workloadgroup", "http-probe-invalid", "header name ** is not a valid header name"),
]


@pytest.fixture(scope="module")
def namespace(kubectl: Kubectl, mesh_server: mesh.MeshServer | None) -> str:
    return mesh.unique_namespace(kubectl, "rejections")


def corpus_document(stem: str, name: str) -> dict[str, Any]:
    documents = mesh.load_documents(CORPUS / f"{stem}-invalid.yaml")
    (document,) = [d for d in documents if d["metadata"]["name"] == name]
    return document


def hand_written() -> list[dict[str, Any]]:
    return mesh.load_documents(HAND_WRITTEN)


def refused_by_webhook(kubectl: Kubectl, namespace: str, document: dict[str, Any]) -> str:
    """Apply `document` (without `_err`); assert the webhook refused it; return its message."""
    document = {key: value for key, value in document.items() if key != "_err"}
    document["metadata"] = {**document["metadata"], "namespace": namespace}

    result = kubectl.apply(document, check=False)

    assert result.returncode == 1
    assert DENIED in result.stderr, result.stderr
    kind, name = document["kind"], document["metadata"]["name"]
    resource = f"{kind.lower()}.{document['apiVersion'].split('/')[0]}"
    lookup = kubectl("get", resource, name, f"--namespace={namespace}")
    assert "NotFound" in lookup.stderr  # refused, so nothing was stored
    return result.stderr.split(DENIED, 1)[1]


@pytest.mark.parametrize(
    ("stem", "name", "expected"), CORPUS_CASES, ids=[f"{s}-{n}" for s, n, _ in CORPUS_CASES]
)
def test_istio_invalid_corpus_is_refused_by_the_webhook(
    kubectl: Kubectl, namespace: str, stem: str, name: str, expected: str
) -> None:
    message = refused_by_webhook(kubectl, namespace, corpus_document(stem, name))

    assert message.startswith("configuration is invalid: ")
    assert expected in message


@pytest.mark.parametrize(
    "document", hand_written(), ids=[d["metadata"]["name"] for d in hand_written()]
)
def test_hand_written_invalid_resource_is_refused_by_the_webhook(
    kubectl: Kubectl, namespace: str, document: dict[str, Any]
) -> None:
    message = refused_by_webhook(kubectl, namespace, document)

    assert message.startswith(document["_err"])


def test_several_errors_are_listed_in_one_message(kubectl: Kubectl, namespace: str) -> None:
    service_entry = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": "two-errors", "namespace": namespace},
        "spec": {
            "hosts": ["example.com"],
            "workloadSelector": {"labels": {"app": "a"}},
            "endpoints": [{"address": "1.2.3.4"}],
        },
    }

    result = kubectl("apply", "-f", "-", input=json.dumps(service_entry))

    assert INVALID + "2 errors occurred:" in result.stderr
    assert "only one of WorkloadSelector or Endpoints is allowed in Service Entry" in result.stderr
