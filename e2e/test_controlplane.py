"""Smoke test of the e2e control plane itself: storage, version, and admission webhook calls."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from e2e.kubectl import Kubectl
from e2e.local_control_plane import ControlPlane
from e2e.polling import wait_for

pytestmark = pytest.mark.e2e

REFUSING_WEBHOOK = "refuse-configmaps.e2e.mesh-webhooks.test"
REFUSED_LABEL = "e2e.mesh-webhooks.test/refused"
# The apiserver picks up webhook configurations through a watch, so not instantly.
WEBHOOK_PROPAGATION_SECONDS = 30.0


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels or {}},
    }


def config_map(namespace: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"namespace": namespace, "name": name},
        "data": data,
    }


def test_applied_objects_read_back(kubectl: Kubectl) -> None:
    kubectl.apply(namespace("e2e-smoke", {"purpose": "smoke"}))
    kubectl.apply(config_map("e2e-smoke", "settings", {"mesh": "on", "retries": "3"}))

    stored_namespace = kubectl.get_json("namespace", "e2e-smoke")
    stored_config = kubectl.get_json("configmap", "settings", "--namespace=e2e-smoke")

    assert stored_namespace["metadata"]["labels"]["purpose"] == "smoke"
    assert stored_namespace["status"]["phase"] == "Active"
    assert stored_config["data"] == {"mesh": "on", "retries": "3"}
    assert stored_config["metadata"]["uid"]  # assigned by the apiserver, so really stored


def test_server_reports_the_pinned_version(kubectl: Kubectl, control_plane: ControlPlane) -> None:
    result = kubectl("version", check=True)

    assert f"Server Version: {control_plane.kubernetes_version}" in result.stdout
    assert f"Client Version: {control_plane.kubernetes_version}" in result.stdout


def test_failing_webhook_blocks_only_selected_namespaces(kubectl: Kubectl) -> None:
    """A Fail-policy webhook nobody serves rejects writes: proof that webhooks are called."""
    kubectl.apply(namespace("e2e-webhook-refused", {REFUSED_LABEL: "true"}))
    kubectl.apply(namespace("e2e-webhook-ignored"))
    refused_config = config_map("e2e-webhook-refused", "blocked", {"key": "value"})

    with refusing_port() as port, webhook_installed(kubectl, refusing_webhook(port)):
        wait_for(
            lambda: kubectl.apply(refused_config, check=False).returncode != 0,
            timeout=WEBHOOK_PROPAGATION_SECONDS,
            description=f"the apiserver to call {REFUSING_WEBHOOK}",
        )
        rejected = kubectl.apply(refused_config, check=False)
        assert f'failed calling webhook "{REFUSING_WEBHOOK}"' in rejected.stderr
        assert "connection refused" in rejected.stderr
        kubectl.apply(config_map("e2e-webhook-ignored", "allowed", {"key": "value"}))

    wait_for(
        lambda: kubectl.apply(refused_config, check=False).returncode == 0,
        timeout=WEBHOOK_PROPAGATION_SECONDS,
        description=f"the apiserver to stop calling the deleted {REFUSING_WEBHOOK}",
    )


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound, so no one else takes it, never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


@contextmanager
def webhook_installed(kubectl: Kubectl, configuration: dict[str, Any]) -> Iterator[None]:
    kubectl.apply(configuration)
    try:
        yield
    finally:
        kind, name = configuration["kind"], configuration["metadata"]["name"]
        kubectl("delete", kind, name, "--ignore-not-found", check=True)


def refusing_webhook(port: int) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "e2e-refuse-configmaps"},
        "webhooks": [
            {
                "name": REFUSING_WEBHOOK,
                "clientConfig": {"url": f"https://127.0.0.1:{port}/validate"},
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["configmaps"],
                        "scope": "Namespaced",
                    }
                ],
                "namespaceSelector": {"matchLabels": {REFUSED_LABEL: "true"}},
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 5,
            }
        ],
    }
