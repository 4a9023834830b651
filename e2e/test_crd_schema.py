"""CRD schema layer: what the chart's CRD schemas catch, the apiserver refuses by itself.

The apiserver decodes and checks an object against its CRD's schema before any validating
webhook runs, so these messages are the apiserver's own and never mention our webhook.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from e2e import mesh
from e2e.kubectl import Kubectl

pytestmark = pytest.mark.e2e

CORPUS = mesh.ROOT.parent / "shared" / "corpus" / "istio" / "crds"


@pytest.fixture(scope="module")
def namespace(kubectl: Kubectl, mesh_server: mesh.MeshServer | None) -> str:
    return mesh.unique_namespace(kubectl, "schema")


def virtual_service(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "reviews"},
        "spec": spec,
    }


def corpus(stem: str, name: str) -> dict[str, Any]:
    documents = mesh.load_documents(CORPUS / f"{stem}-invalid.yaml")
    (document,) = [d for d in documents if d["metadata"]["name"] == name]
    return {key: value for key, value in document.items() if key != "_err"}


CASES = [
    pytest.param(
        virtual_service({"hosts": ["reviews"], "htttp": []}),
        'VirtualService in version "v1" cannot be handled as a VirtualService: '
        'strict decoding error: unknown field "spec.htttp"',
        id="unknown-field",
    ),
    pytest.param(
        virtual_service({"hosts": "reviews"}),
        'The VirtualService "reviews" is invalid: spec.hosts: Invalid value: "string": '
        "spec.hosts in body must be of type array",
        id="wrong-type",
    ),
    pytest.param(
        corpus("peerauth", "bad-mode"),
        'The PeerAuthentication "bad-mode" is invalid: spec.mtls.mode: Unsupported value: "BLAH"',
        id="enum",
    ),
    pytest.param(
        corpus("serviceentry", "missing-host"),
        'The ServiceEntry "missing-host" is invalid: spec.hosts: Required value',
        id="required",
    ),
    pytest.param(
        corpus("reqauth", "empty-aud"),
        "spec.jwtRules[0].audiences[0] in body should be at least 1 chars long",
        id="min-length",
    ),
]


@pytest.mark.parametrize(("document", "expected"), CASES)
def test_schema_violation_is_refused_by_the_apiserver(
    kubectl: Kubectl, namespace: str, document: dict[str, Any], expected: str
) -> None:
    document = {**document, "metadata": {**document["metadata"], "namespace": namespace}}

    result = kubectl("apply", "-f", "-", input=json.dumps(document))

    assert result.returncode == 1
    assert expected in result.stderr, result.stderr
    assert "admission webhook" not in result.stderr  # the webhook never saw it
