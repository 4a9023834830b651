"""Namespaces and labels: which pods `kubectl apply` stores with a sidecar, and which not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e import mesh
from e2e.conftest import EXISTING_CLUSTER
from e2e.kubectl import Kubectl

pytestmark = pytest.mark.e2e

APP_POD = Path(__file__).parent / "manifests" / "app-pod.yaml"
STATUS = "sidecar.istio.io/status"
REVISION = "istio.io/rev"
STATUS_PORT = 15020


@pytest.fixture(scope="module")
def canary(
    kubectl: Kubectl, mesh_server: mesh.MeshServer | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """A second release for revision `canary`, tagged `prod-stable`, with its own server, beside
    the default one."""
    if EXISTING_CLUSTER:  # e2e/kind/run.sh installs it with helm
        mesh.wait_until_injecting(kubectl, "canary")
        yield
        return
    with mesh.running_release(
        kubectl,
        tmp_path_factory.mktemp("canary"),
        name="mesh-webhooks-canary",
        revision="canary",
        values={"revisionTags": ["prod-stable"]},
    ):
        yield


def apply_app(kubectl: Kubectl, namespace: str) -> dict[str, Any]:
    kubectl("apply", f"--namespace={namespace}", "-f", str(APP_POD), check=True)
    pod: dict[str, Any] = kubectl.get_json("pod", "app", f"--namespace={namespace}")
    return pod


def container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    spec = pod["spec"]
    found: list[dict[str, Any]] = [
        c for c in spec.get("initContainers", []) + spec["containers"] if c["name"] == name
    ]
    assert len(found) == 1, f"{len(found)} containers named {name}"
    return found[0]


def names(pod: dict[str, Any]) -> list[str]:
    spec = pod["spec"]
    return [c["name"] for c in spec.get("initContainers", []) + spec["containers"]]


def env(pod: dict[str, Any], container_name: str) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container(pod, container_name).get("env", [])}


def unscheduled(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec without what a scheduler adds on a real cluster."""
    return {key: value for key, value in spec.items() if key != "nodeName"}


def assert_untouched(pod: dict[str, Any]) -> None:
    assert names(pod) == ["web"]
    assert STATUS not in pod["metadata"].get("annotations", {})
    assert container(pod, "web")["readinessProbe"]["httpGet"]["port"] == "http"


def test_enabled_namespace_injects_sidecar_probes_and_metrics(
    kubectl: Kubectl, mesh_server: mesh.MeshServer | None
) -> None:
    namespace = mesh.unique_namespace(kubectl, "enabled", {"istio-injection": "enabled"})

    pod = apply_app(kubectl, namespace)

    assert names(pod)[:2] == ["istio-init", "istio-proxy"]  # native sidecars on 1.36
    assert "web" in names(pod)
    assert container(pod, "istio-proxy")["restartPolicy"] == "Always"
    web = container(pod, "web")
    assert web["readinessProbe"]["httpGet"] == {
        "path": "/app-health/web/readyz",
        "port": STATUS_PORT,
        "scheme": "HTTP",
    }
    assert web["livenessProbe"]["httpGet"]["path"] == "/app-health/web/livez"
    assert "tcpSocket" not in web["livenessProbe"]
    probers = json.loads(env(pod, "istio-proxy")["ISTIO_KUBE_APP_PROBERS"])
    assert probers["/app-health/web/readyz"]["httpGet"] == {
        "path": "/healthz",
        "port": 8080,  # the named port, resolved
        "scheme": "HTTP",
    }
    assert probers["/app-health/web/livez"]["tcpSocket"] == {"port": 8080}
    metrics = json.loads(env(pod, "istio-proxy")["ISTIO_PROMETHEUS_ANNOTATIONS"])
    assert metrics["port"] == "9090"
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(STATUS_PORT)
    assert annotations["prometheus.io/path"] == "/stats/prometheus"
    assert annotations[REVISION] == "default"
    assert json.loads(annotations[STATUS])["revision"] == "default"
    assert pod["metadata"]["labels"]["service.istio.io/canonical-name"] == "shop"


def test_pod_created_like_the_replicaset_controller_is_injected(
    kubectl: Kubectl, mesh_server: mesh.MeshServer | None
) -> None:
    namespace = mesh.unique_namespace(kubectl, "replicaset", {"istio-injection": "enabled"})
    template_hash = "7d4b9c8f6"
    owner = replica_set(kubectl, namespace, f"checkout-{template_hash}", template_hash)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": f"checkout-{template_hash}-",
            "namespace": namespace,
            "labels": {"pod-template-hash": template_hash, "tier": "checkout"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": owner["metadata"]["name"],
                    "uid": owner["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "checkout", "image": "registry.k8s.io/pause:3.10"}]},
    }

    created = kubectl("create", "-o", "json", "-f", "-", input=json.dumps(pod), check=True)

    stored = json.loads(created.stdout)
    assert stored["metadata"]["name"].startswith(f"checkout-{template_hash}-")
    assert names(stored)[:2] == ["istio-init", "istio-proxy"]
    assert stored["metadata"]["ownerReferences"][0]["uid"] == owner["metadata"]["uid"]
    # the workload is the Deployment behind the ReplicaSet, as Istio names it
    assert stored["metadata"]["labels"]["service.istio.io/canonical-name"] == "checkout"


def replica_set(kubectl: Kubectl, namespace: str, name: str, template_hash: str) -> dict[str, Any]:
    labels = {"tier": "checkout", "pod-template-hash": template_hash}
    kubectl.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": 0,  # on a real cluster its controller must not add pods of its own
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "checkout", "image": "pause"}]},
                },
            },
        }
    )
    stored: dict[str, Any] = kubectl.get_json("replicaset", name, f"--namespace={namespace}")
    return stored


def test_disabled_namespace_is_untouched(
    kubectl: Kubectl, mesh_server: mesh.MeshServer | None
) -> None:
    namespace = mesh.unique_namespace(kubectl, "disabled", {"istio-injection": "disabled"})

    assert_untouched(apply_app(kubectl, namespace))


def test_pod_label_inject_false_is_untouched(
    kubectl: Kubectl, mesh_server: mesh.MeshServer | None
) -> None:
    namespace = mesh.unique_namespace(kubectl, "optout", {"istio-injection": "enabled"})
    manifest = APP_POD.read_text().replace(
        "    version: v1\n", '    version: v1\n    sidecar.istio.io/inject: "false"\n'
    )
    assert 'sidecar.istio.io/inject: "false"' in manifest

    kubectl("apply", f"--namespace={namespace}", "-f", "-", input=manifest, check=True)

    assert_untouched(kubectl.get_json("pod", "app", f"--namespace={namespace}"))


@pytest.mark.parametrize(
    ("namespace_labels", "pod_labels", "revision"),
    [
        ({"istio.io/rev": "canary"}, {}, "canary"),
        ({}, {"istio.io/rev": "canary"}, "canary"),
        ({"istio-injection": "enabled"}, {}, "default"),
        ({"istio.io/rev": "default"}, {}, "default"),
        ({"istio.io/rev": "prod-stable"}, {}, "canary"),
        ({}, {"istio.io/rev": "prod-stable"}, "canary"),
    ],
    ids=[
        *("namespace-canary", "pod-canary", "namespace-enabled", "namespace-default"),
        *("namespace-tag", "pod-tag"),
    ],
)
def test_revision_labels_reach_only_the_matching_revision(
    kubectl: Kubectl,
    canary: None,
    namespace_labels: dict[str, str],
    pod_labels: dict[str, str],
    revision: str,
) -> None:
    namespace = mesh.unique_namespace(kubectl, "rev", namespace_labels)
    pod = mesh.sample_pod(namespace, "app")
    pod["metadata"]["labels"] = pod_labels

    kubectl.apply(pod)

    stored = kubectl.get_json("pod", "app", f"--namespace={namespace}")
    assert names(stored).count("istio-proxy") == 1  # injected once, by one revision
    assert names(stored).count("istio-init") == 1
    annotations = stored["metadata"]["annotations"]
    assert annotations[REVISION] == revision
    assert json.loads(annotations[STATUS])["revision"] == revision


def test_injected_pod_applied_again_is_unchanged(
    kubectl: Kubectl, mesh_server: mesh.MeshServer | None
) -> None:
    """kubectl's three-way merge keeps what injection added (containers, volumes, labels)."""
    namespace = mesh.unique_namespace(kubectl, "reapply", {"istio-injection": "enabled"})
    manifest = mesh.sample_pod(namespace, "plain")
    kubectl.apply(manifest)
    first = kubectl.get_json("pod", "plain", f"--namespace={namespace}")
    assert names(first) == ["istio-init", "istio-proxy", "app"]

    again = kubectl.apply(manifest)

    assert again.stdout.strip() == "pod/plain unchanged"
    second = kubectl.get_json("pod", "plain", f"--namespace={namespace}")
    assert second["metadata"]["generation"] == first["metadata"]["generation"] == 1
    assert unscheduled(second["spec"]) == unscheduled(first["spec"])


def test_injected_pod_created_again_is_not_injected_twice(
    kubectl: Kubectl, mesh_server: mesh.MeshServer | None
) -> None:
    """The stored injected pod (rewritten probes, merged metrics) sent through the injector
    again, as a controller re-creating it from a copy would: the same pod comes back."""
    namespace = mesh.unique_namespace(kubectl, "again", {"istio-injection": "enabled"})
    first = apply_app(kubectl, namespace)
    copy = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "app-copy",
            "namespace": namespace,
            "labels": first["metadata"]["labels"],
            "annotations": first["metadata"]["annotations"],
        },
        "spec": first["spec"],
    }

    kubectl.apply(copy)

    second = kubectl.get_json("pod", "app-copy", f"--namespace={namespace}")
    assert unscheduled(second["spec"]) == unscheduled(first["spec"])
    last_applied = "kubectl.kubernetes.io/last-applied-configuration"
    kept = {k: v for k, v in second["metadata"]["annotations"].items() if k != last_applied}
    assert kept == {k: v for k, v in first["metadata"]["annotations"].items() if k != last_applied}
    assert second["metadata"]["labels"] == first["metadata"]["labels"]
