"""The /inject admission core: decide, then inject, which also records the patch. Pure: no I/O
beyond logs and metrics.

`process` is shared with the offline `mesh-webhooks inject` command, so both run the same code.
"""

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from webhooks.admission.responses import allow, deny, patched
from webhooks.admission.review import AdmissionHandler, AdmissionRequest, AdmissionResponse
from webhooks.inject import metrics
from webhooks.inject.annotations import AnnotationError, InjectionError
from webhooks.inject.config import InjectConfig, resolve_native_sidecars
from webhooks.inject.decision import Decision, decide
from webhooks.inject.pod import Injection, inject_pod

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    injection: Injection | None  # None when skipped

    @property
    def warnings(self) -> tuple[str, ...]:
        extra = self.injection.warnings if self.injection else ()
        return (*self.decision.warnings, *extra)


def process(
    pod: Mapping[str, Any], namespace: str, config: InjectConfig, native: bool, workload: str = ""
) -> Outcome:
    """Decide, then inject. Raises InjectionError (AnnotationError) for pods we must refuse."""
    decision = decide(pod, namespace, config)
    if not decision.inject:
        return Outcome(decision, None)
    return Outcome(decision, inject_pod(pod, config, native, workload))


def _created_directly(pod: Mapping[str, Any]) -> bool:
    """Warnings reach the user only for pods they create themselves (not a controller)."""
    return not (pod.get("metadata") or {}).get("ownerReferences")


def _log(message: str, request: AdmissionRequest, **fields: str) -> None:
    if logger.isEnabledFor(logging.INFO):  # the fields are built only for a line that is written
        where = f"{request.namespace}/{request.object_name}"
        logger.info(message, extra={"uid": request.uid, "object": where, **fields})


def _answer(
    request: AdmissionRequest, config: InjectConfig, cluster_version: tuple[int, int] | None
) -> AdmissionResponse:
    if request.kind.kind not in ("Pod", ""):  # a webhook rule wider than pods: not ours to touch
        metrics.SKIP.labels("not-a-pod").inc()
        return allow(request)
    pod = request.object
    if not isinstance(pod, dict):
        metrics.FAILURE.labels("no-object").inc()
        return deny(request, "the admission request carries no pod")
    native = resolve_native_sidecars(config.native_sidecars, cluster_version)
    try:
        outcome = process(pod, request.namespace, config, native)
    except InjectionError as error:
        reason = "invalid-annotation" if isinstance(error, AnnotationError) else "invalid-pod"
        metrics.FAILURE.labels(reason).inc()
        _log("injection refused", request, reason=reason, error=str(error))
        return deny(request, f"sidecar injection refused: {error}")
    decision = outcome.decision
    _log("injection decision", request, reason=decision.reason.value)
    if outcome.injection is None:
        metrics.SKIP.labels(decision.reason.value).inc()
        return allow(request, decision.warnings if _created_directly(pod) else ())
    metrics.SUCCESS.inc()
    return patched(request, outcome.injection.patch, outcome.warnings)


def make_handler(
    get_config: Callable[[], InjectConfig], cluster_version: tuple[int, int] | None = None
) -> AdmissionHandler:
    """`get_config` returns the config in force (e.g. ConfigStore.get); `cluster_version` is the
    apiserver's (major, minor), learned at start-up, which nativeSidecars: auto needs."""

    def handle(request: AdmissionRequest) -> AdmissionResponse:
        metrics.REQUESTS.inc()
        start = time.perf_counter()
        try:
            return _answer(request, get_config(), cluster_version)
        except Exception:
            metrics.FAILURE.labels("internal").inc()  # the server logs it with the uid: HTTP 500
            raise
        finally:
            metrics.TIME.observe(time.perf_counter() - start)

    return handle
