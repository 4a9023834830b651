"""Prove the apiserver can reach the validating webhook before making it fail closed.

A server-side dry-run create of a Gateway carrying the always-reject annotation must come back
"denied the request": that answer can only come from our webhook, through the Service, over TLS
with the caBundle. Until then the validating configuration stays at failurePolicy Ignore.
"""

import logging
from dataclasses import dataclass

from webhooks import kube

logger = logging.getLogger(__name__)

ALWAYS_REJECT_ANNOTATION = "internal.istio.io/webhook-always-reject"
DENIED = "denied the request"
GROUP, VERSION, PLURAL = "networking.istio.io", "v1beta1", "gateways"
NAME = "mesh-webhooks-self-test"


@dataclass(frozen=True)
class Verdict:
    passed: bool
    detail: str


def invalid_gateway(namespace: str) -> kube.Object:
    """Valid for the CRD schema, so only the webhook (seeing the annotation) can refuse it."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Gateway",
        "metadata": {
            "name": NAME,
            "namespace": namespace,
            "annotations": {ALWAYS_REJECT_ANNOTATION: "true"},
        },
        "spec": {
            "selector": {"istio": "ingressgateway"},
            "servers": [
                {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}
            ],
        },
    }


def judge(error: kube.KubeError | None) -> Verdict:
    """What the dry-run's outcome says about the webhook path (Istio's reading of it)."""
    if error is None:
        return Verdict(False, "the always-reject Gateway was admitted: webhook not reached yet")
    if DENIED in error.message:
        return Verdict(True, "the webhook denied the always-reject Gateway")
    if "does not support dry run" in error.message:
        return Verdict(True, "a webhook does not support dry run; cannot test, assuming ready")
    if error.status == 404:
        return Verdict(True, "the Gateway CRD is not installed: nothing to validate yet")
    return Verdict(False, f"dry-run create failed: {error.message}")


def run(client: kube.Kube, namespace: str) -> Verdict:
    """One self-test (blocking)."""
    try:
        client.dry_run_create(GROUP, VERSION, namespace, PLURAL, invalid_gateway(namespace))
    except kube.KubeError as error:
        return judge(error)
    return judge(None)
