"""Prove the apiserver can reach the validating webhook before making it fail closed.

A server-side dry-run create of a Gateway carrying the always-reject annotation must come back
"denied the request", which our webhook answers through the Service, over TLS with the
caBundle. Until then the validating configuration stays at failurePolicy Ignore. The Gateway is
labelled istio.io/rev=<revision>, as Istio's is: a named revision's webhook only sees objects
labelled with it (or one of its tags). As in Istio, the denial is not traced to this release:
another validating webhook that denies it (a default release's, which validates every object,
or a policy engine's) also passes the test.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from webhooks import kube
from webhooks.certs import metrics, retry
from webhooks.mesh import ALWAYS_REJECT_ANNOTATION, REVISION_LABEL

logger = logging.getLogger(__name__)

DENIED = "denied the request"
# The apiserver's 404 for a resource type it does not serve (Istio's check); a 404 for a
# namespace that does not exist must not count as "nothing to validate".
NO_SUCH_RESOURCE = "the server could not find the requested resource"
GROUP, VERSION, PLURAL = "networking.istio.io", "v1beta1", "gateways"
NAME = "mesh-webhooks-self-test"


@dataclass(frozen=True)
class Verdict:
    passed: bool
    detail: str


def invalid_gateway(namespace: str, revision: str) -> kube.Object:
    """Valid for the CRD schema, so only the webhook (seeing the annotation) can refuse it."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Gateway",
        "metadata": {
            "name": NAME,
            "namespace": namespace,
            "labels": {REVISION_LABEL: revision},
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
    if error.status == 404 and NO_SUCH_RESOURCE in error.message:
        return Verdict(True, "the Gateway CRD is not installed: nothing to validate yet")
    return Verdict(False, f"dry-run create failed: {error.message}")


def run(client: kube.Kube, namespace: str, revision: str) -> Verdict:
    """One self-test (blocking)."""
    gateway = invalid_gateway(namespace, revision)
    try:
        client.dry_run_create(GROUP, VERSION, namespace, PLURAL, gateway)
    except kube.KubeError as error:
        return judge(error)
    return judge(None)


async def keep_testing(
    client: kube.Kube,
    namespace: str,
    revision: str,
    ready: Callable[[], bool],
    on_pass: Callable[[], None],
) -> None:
    """Once `ready()`, dry-run the always-reject Gateway until it is denied, then `on_pass()`.

    Survives any error (logged, retried with backoff): a dead self-test would leave the webhook
    failing open forever while the pod looks healthy."""
    failures = 0
    while True:
        try:
            if ready():
                verdict = await asyncio.to_thread(run, client, namespace, revision)
                metrics.SELF_TEST_RUNS.labels("passed" if verdict.passed else "failed").inc()
                logger.info("self-test", extra={"passed": verdict.passed, "detail": verdict.detail})
                if verdict.passed:
                    on_pass()
                    return
                failures += 1
        except Exception as error:  # unexpected (e.g. an unparsable reply): log it and go on
            failures += 1
            metrics.SELF_TEST_RUNS.labels("error").inc()
            logger.error("self-test raised", extra={"error": str(error)}, exc_info=True)
        await asyncio.sleep(retry.backoff(failures + 1, first=0.5, ceiling=60.0))
