"""Webhook down: with failurePolicy Fail a mesh resource cannot be applied; with Ignore it can."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from e2e import mesh
from e2e.conftest import local_only
from e2e.kubectl import Kubectl
from e2e.polling import wait_for

pytestmark = pytest.mark.e2e

RELEASE = "e2e-down"
PROPAGATION_SECONDS = 30.0


@pytest.fixture
def server(
    kubectl: Kubectl, mesh_crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[mesh.MeshServer]:
    """A validation-only release whose server the test stops."""
    local_only("stopping the webhook server")
    values = {"webhook": {"injection": {"enabled": False}}}
    with mesh.running_release(
        kubectl, tmp_path_factory.mktemp("down"), name=RELEASE, values=values
    ) as running:
        yield running


def failure_policy(kubectl: Kubectl, name: str) -> str:
    return str(
        kubectl.get_json("validatingwebhookconfiguration", name)["webhooks"][0]["failurePolicy"]
    )


def test_stopped_webhook_blocks_with_fail_and_not_with_ignore(
    kubectl: Kubectl, server: mesh.MeshServer
) -> None:
    validating = server.release.validating
    namespace = mesh.unique_namespace(kubectl, "down")
    wait_for(
        lambda: failure_policy(kubectl, validating) == "Fail",
        timeout=PROPAGATION_SECONDS,
        description="the server to fail closed after its self-test",
    )
    kubectl.apply(mesh.valid_gateway(namespace, "while-up"))  # served: accepted

    server.stop()
    refused = kubectl(
        "apply", "-f", "-", input=json.dumps(mesh.valid_gateway(namespace, "while-down"))
    )

    assert refused.returncode == 1
    assert 'failed calling webhook "validation.istio.io"' in refused.stderr, refused.stderr
    assert f"{server.release.url}/validate" in refused.stderr
    assert "connection refused" in refused.stderr
    assert kubectl("get", "gateway", "while-down", f"--namespace={namespace}").returncode == 1

    kubectl(
        "patch",
        "validatingwebhookconfiguration",
        validating,
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]',
        check=True,
    )
    wait_for(
        lambda: (
            kubectl.apply(mesh.valid_gateway(namespace, "while-down"), check=False).returncode == 0
        ),
        timeout=PROPAGATION_SECONDS,
        description="the apiserver to ignore the unreachable webhook",
    )
    assert kubectl.get_json("gateway", "while-down", f"--namespace={namespace}")["spec"]
