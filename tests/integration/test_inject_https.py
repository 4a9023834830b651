"""/inject over real HTTPS: the server's app under uvicorn with our TLS context, httpx verifying
the CA, a real AdmissionReview in and a patch out."""

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonpatch
import pytest

from tests import servers
from tests.unit.inject.factories import pod
from webhooks.certs import issuing
from webhooks.inject.config import InjectConfig
from webhooks.inject.handler import make_handler
from webhooks.server.app import create_app
from webhooks.server.tls import ReloadableTLS

CA = issuing.create_ca("mesh-webhooks test CA")


def review(obj: dict[str, Any]) -> dict[str, Any]:
    return servers.admission_review(obj, uid="7f0b2c1e-https", namespace="shop")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    pair = issuing.issue_serving_cert(CA, ["localhost", "127.0.0.1"])
    tls = ReloadableTLS()
    tls.load_pem(pair.cert_pem, pair.key_pem)
    app = create_app({"/inject": make_handler(lambda: InjectConfig())}, lambda: True)
    with servers.serve_app_in_thread(app, tls) as port:
        yield f"https://127.0.0.1:{port}"


def test_inject_over_https_returns_a_patch_that_injects_the_pod(base_url: str) -> None:
    probed = pod(
        {"app": "web"},
        {"prometheus.io/scrape": "true", "prometheus.io/port": "9100"},
        containers=[
            {
                "name": "web",
                "image": "nginx",
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
            }
        ],
    )
    with httpx.Client(verify=servers.client_context(CA.cert_pem)) as client:
        answer = client.post(f"{base_url}/inject", json=review(probed))
        bad = client.post(f"{base_url}/inject", content=b"{", headers=servers.JSON)
    assert answer.status_code == 200
    assert bad.status_code == 400
    body = answer.json()
    assert body["apiVersion"] == "admission.k8s.io/v1"
    response = body["response"]
    assert response["uid"] == "7f0b2c1e-https"
    assert response["allowed"] is True
    assert response["patchType"] == "JSONPatch"
    injected = jsonpatch.apply_patch(probed, json.loads(base64.b64decode(response["patch"])))
    names = [c["name"] for c in injected["spec"]["containers"]]
    assert names == ["web", "istio-proxy"]
    assert injected["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] == 15020
    assert injected["metadata"]["annotations"]["prometheus.io/port"] == "15020"


def test_an_untrusted_client_cannot_talk_to_the_webhook(base_url: str) -> None:
    other = issuing.create_ca("someone else")
    with (
        httpx.Client(verify=servers.client_context(other.cert_pem)) as client,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.post(f"{base_url}/inject", json=review(pod()))
