"""Pod labels and annotations written by injection, including the sidecar.istio.io/status record."""

import functools
import re
from typing import Any

from webhooks import mesh, yamlio
from webhooks.admission import jsontext
from webhooks.inject.patch import ANNOTATIONS, LABELS, PodEdit

_CRONJOB_JOB = re.compile(r"^(.+)-[0-9]{8,10}$")


def workload_name(metadata: dict[str, Any]) -> str:
    """The owning workload's name, with Istio's heuristics (ReplicaSet -> Deployment or Argo
    Rollout, ReplicationController -> OpenShift DeploymentConfig, Job -> CronJob). Pods created
    directly are their own workload."""
    name = str(metadata.get("name") or "")
    references, owner = metadata.get("ownerReferences"), None
    for reference in references if isinstance(references, list) else ():
        if isinstance(reference, dict) and reference.get("controller"):
            owner = reference
            break
    if not metadata.get("generateName") or owner is None:
        return name or str(metadata.get("generateName") or "").rstrip("-")
    kind, owner_name = owner.get("kind"), str(owner.get("name") or "")
    labels = metadata.get("labels") or {}
    if kind == "ReplicaSet":  # of a Deployment, else of an Argo Rollout
        for hash_label in ("pod-template-hash", "rollouts-pod-template-hash"):
            template_hash = labels.get(hash_label)
            if template_hash and owner_name.endswith(f"-{template_hash}"):
                return owner_name[: -len(template_hash) - 1]
    if kind == "ReplicationController" and labels.get("deploymentconfig"):
        return str(labels["deploymentconfig"])  # an OpenShift DeploymentConfig's
    if kind == "Job" and (match := _CRONJOB_JOB.match(owner_name)):
        return match.group(1)
    return owner_name


def canonical_labels(metadata: dict[str, Any], workload: str = "") -> dict[str, str]:
    """`workload` names the owner when the metadata cannot (a template in a Deployment)."""
    labels = metadata.get("labels") or {}
    name = (
        next(filter(None, map(labels.get, mesh.WORKLOAD_NAME_LABELS)), "")
        or workload
        or workload_name(metadata)
    )
    revision = labels.get(mesh.CANONICAL_REVISION_LABEL) or (
        labels.get("app.kubernetes.io/version") or labels.get("version") or "latest"
    )
    return {
        mesh.CANONICAL_NAME_LABEL: name[:63].strip("-_."),
        mesh.CANONICAL_REVISION_LABEL: revision,
    }


def status_json(
    init_containers: list[str], containers: list[str], volumes: list[str], revision: str
) -> str:
    """Istio's SidecarInjectionStatus: field order fixed, empty lists as null."""
    return _status_json(tuple(init_containers), tuple(containers), tuple(volumes), revision)


@functools.lru_cache(maxsize=256)  # the names vary with the config and userVolume only
def _status_json(
    init_containers: tuple[str, ...], containers: tuple[str, ...], volumes: tuple[str, ...],
    revision: str,
) -> str:  # fmt: skip
    document = {
        "initContainers": list(init_containers) or None,
        "containers": list(containers) or None,
        "volumes": list(volumes) or None,
        "imagePullSecrets": None,
        "revision": revision or mesh.DEFAULT_REVISION,
    }
    return jsontext.compact(document)


def parse_status(value: str) -> dict[str, list[str]]:
    """The names a previous injection added; an unreadable record lists nothing."""
    try:
        document = yamlio.load_json(value)
    except ValueError:
        return {}
    if not isinstance(document, dict):
        return {}
    return {
        key: [name for name in document.get(key) or () if isinstance(name, str)]
        for key in ("initContainers", "containers", "volumes")
        if isinstance(document.get(key) or [], list)
    }


def apply(
    edit: PodEdit,
    metadata: dict[str, Any],
    revision: str,
    first_app: str | None,
    status: str,
    workload: str,
) -> None:
    """Write the pod's labels and annotations; values the user set are kept."""
    labels = edit.mapping(metadata, "/metadata", "labels")
    if mesh.TLS_MODE_LABEL not in labels:
        edit.put(labels, LABELS, mesh.TLS_MODE_LABEL, "istio")
    if mesh.CANONICAL_NAME_LABEL not in labels or mesh.CANONICAL_REVISION_LABEL not in labels:
        for key, value in canonical_labels(metadata, workload).items():
            if key not in labels:
                edit.put(labels, LABELS, key, value)
    annotations = edit.mapping(metadata, "/metadata", "annotations")
    if first_app is not None:
        for key in (mesh.DEFAULT_CONTAINER_ANNOTATION, mesh.DEFAULT_LOGS_CONTAINER_ANNOTATION):
            if key not in annotations:
                edit.put(annotations, ANNOTATIONS, key, first_app)
    edit.put(annotations, ANNOTATIONS, mesh.REVISION_LABEL, revision or mesh.DEFAULT_REVISION)
    edit.put(annotations, ANNOTATIONS, mesh.STATUS_ANNOTATION, status)
