"""Pods and admission requests for the injector's unit tests."""

from typing import Any

from webhooks.admission.review import AdmissionRequest


def pod(
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    namespace: str = "shop",
    **spec: Any,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "hello", "namespace": namespace}
    if labels is not None:
        metadata["labels"] = labels
    if annotations is not None:
        metadata["annotations"] = annotations
    spec.setdefault("containers", [{"name": "hello", "image": "nginx"}])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def request(obj: dict[str, Any] | None, namespace: str = "shop") -> AdmissionRequest:
    return AdmissionRequest.model_validate(
        {
            "uid": "0000-test",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": namespace,
            "operation": "CREATE",
            "object": obj,
        }
    )
