"""Pods and admission requests for the injector's unit tests."""

from typing import Any

from webhooks import mesh
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


def every_container(injected: dict[str, Any]) -> list[dict[str, Any]]:
    spec = injected["spec"]
    return [*spec.get("initContainers", ()), *spec.get("containers", ())]


def proxy_container(injected: dict[str, Any]) -> dict[str, Any]:
    """The injected proxy, wherever the layout put it."""
    return next(c for c in every_container(injected) if c["name"] == mesh.PROXY_CONTAINER)
