"""The canonical name and revision labels: Istio's workload heuristics, label by label."""

from typing import Any

import pytest

from webhooks.inject import metadata

ROLLOUT_HASH = {"rollouts-pod-template-hash": "6b7f9c8d5"}


def owned(kind: str, owner: str, labels: dict[str, str]) -> dict[str, Any]:
    """A pod's metadata as a controller creates it: a generateName and a controller reference."""
    reference = {"apiVersion": "v1", "kind": kind, "name": owner, "controller": True}
    return {"generateName": f"{owner}-", "labels": labels, "ownerReferences": [reference]}


@pytest.mark.parametrize(
    ("pod_metadata", "name"),
    [
        (owned("ReplicaSet", "web-7d9f8b6c5d", {"pod-template-hash": "7d9f8b6c5d"}), "web"),
        # Argo Rollouts' ReplicaSets carry their hash under another label.
        (owned("ReplicaSet", "checkout-6b7f9c8d5", ROLLOUT_HASH), "checkout"),
        (owned("ReplicaSet", "web-7d9f8b6c5d", {"pod-template-hash": "other"}), "web-7d9f8b6c5d"),
        # OpenShift: a DeploymentConfig's ReplicationController, named <config>-<revision>.
        (owned("ReplicationController", "billing-3", {"deploymentconfig": "billing"}), "billing"),
        (owned("ReplicationController", "billing-3", {}), "billing-3"),
        (owned("Job", "report-28512345", {}), "report"),  # a CronJob's Job
        (owned("Job", "migrate", {}), "migrate"),
        (owned("StatefulSet", "db", {}), "db"),
        ({"name": "hello", "labels": {}}, "hello"),
        ({"generateName": "batch-", "labels": {}}, "batch"),
    ],
)  # fmt: skip
def test_the_canonical_name_is_the_workloads(pod_metadata: dict[str, Any], name: str) -> None:
    labels = metadata.canonical_labels(pod_metadata)
    assert labels["service.istio.io/canonical-name"] == name


def test_app_labels_and_the_template_owner_win_over_the_heuristics() -> None:
    rollout = owned("ReplicaSet", "checkout-6b7f9c8d5", dict(ROLLOUT_HASH))
    assert (
        metadata.canonical_labels(rollout, "from-template")["service.istio.io/canonical-name"]
        == "from-template"
    )
    rollout["labels"]["app.kubernetes.io/name"] = "shop"
    rollout["labels"]["version"] = "v2"
    assert metadata.canonical_labels(rollout) == {
        "service.istio.io/canonical-name": "shop",
        "service.istio.io/canonical-revision": "v2",
    }
