"""/inject over real HTTPS: the server's app under uvicorn with our TLS context, httpx verifying
the CA, a real AdmissionReview in and a patch out."""

import asyncio
import base64
import contextlib
import json
import socket
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonpatch
import pytest
import uvicorn

from tests.unit.inject.factories import pod
from webhooks.certs import issuing
from webhooks.inject.config import InjectConfig
from webhooks.inject.handler import make_handler
from webhooks.server.app import create_app
from webhooks.server.tls import ReloadableTLS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def review(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "7f0b2c1e-https",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "shop",
            "operation": "CREATE",
            "object": obj,
        },
    }


@contextlib.asynccontextmanager
async def serving(ca: issuing.KeyPair) -> AsyncIterator[str]:
    server_pair = issuing.issue_serving_cert(ca, ["localhost", "127.0.0.1"])
    tls = ReloadableTLS()
    tls.load_pem(server_pair.cert_pem, server_pair.key_pem)
    port = free_port()
    app = create_app({"/inject": make_handler(InjectConfig)}, lambda: True)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        ssl_context_factory=tls.uvicorn_factory(),
        lifespan="off",
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn has no startup event to await)
        await asyncio.sleep(0.01)
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def test_inject_over_https_returns_a_patch_that_injects_the_pod() -> None:
    ca = issuing.create_ca("mesh-webhooks test CA")
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

    async def scenario() -> tuple[int, dict[str, Any], int]:
        async with serving(ca) as base:
            verify = ssl.create_default_context(cadata=ca.cert_pem.decode())
            async with httpx.AsyncClient(verify=verify) as client:
                answer = await client.post(f"{base}/inject", json=review(probed))
                headers = {"content-type": "application/json"}
                bad = await client.post(f"{base}/inject", content=b"{", headers=headers)
        return answer.status_code, answer.json(), bad.status_code

    status, body, bad_status = asyncio.run(scenario())
    assert status == 200
    assert bad_status == 400
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


def test_an_untrusted_client_cannot_talk_to_the_webhook() -> None:
    ca, other = issuing.create_ca("server CA"), issuing.create_ca("someone else")

    async def scenario() -> None:
        async with serving(ca) as base:
            verify = ssl.create_default_context(cadata=other.cert_pem.decode())
            async with httpx.AsyncClient(verify=verify) as client:
                await client.post(f"{base}/inject", json=review(pod()))

    with pytest.raises(httpx.ConnectError):
        asyncio.run(scenario())
