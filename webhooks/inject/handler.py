"""The /inject admission core: decide, then inject, which also records the patch. Pure: no I/O
beyond metrics (the server logs each request, with the reason this returns as an audit
annotation).

`process` is shared with the offline `mesh-webhooks inject` command, so both run the same code.
"""

import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from webhooks.admission.responses import allow, audit_reason, deny, patched
from webhooks.admission.review import AdmissionHandler, AdmissionRequest, AdmissionResponse
from webhooks.inject import metrics
from webhooks.inject.annotations import AnnotationError, InjectionError
from webhooks.inject.config import InjectConfig, resolve_native_sidecars
from webhooks.inject.decision import Decision, Reason, decide
from webhooks.inject.pod import Injection, inject_pod


class Outcome(NamedTuple):  # a tuple: built for every request, and a tuple is built fastest
    decision: Decision
    injection: Injection | None  # None when skipped

    @property
    def warnings(self) -> tuple[str, ...]:
        extra = self.injection.settings.warnings if self.injection else ()
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
    metadata = pod.get("metadata")
    owners = metadata.get("ownerReferences") if isinstance(metadata, dict) else None
    return not (isinstance(owners, list) and owners)


# The reason goes to the apiserver's audit log and into the server's one line per request (a
# second log line would cost as much as the whole injection). Read-only: shared by responses.
_DECISION_AUDITS = {reason: audit_reason(reason.value) for reason in Reason}


Answer = tuple[AdmissionResponse, metrics.Outcome, str]  # the response, for the metrics: why


def _answer(
    request: AdmissionRequest, config: InjectConfig, cluster_version: tuple[int, int] | None
) -> Answer:
    if request.kind.kind not in ("Pod", ""):  # a webhook rule wider than pods: not ours to touch
        return allow(request), "skip", "not-a-pod"
    pod = request.object
    if not isinstance(pod, dict):
        return deny(request, "the admission request carries no pod"), "failure", "no-object"
    native = resolve_native_sidecars(config.native_sidecars, cluster_version)
    try:
        outcome = process(pod, request.namespace, config, native)
    except InjectionError as error:
        reason = "invalid-annotation" if isinstance(error, AnnotationError) else "invalid-pod"
        message = f"sidecar injection refused: {error}"
        return deny(request, message, audit=audit_reason(reason)), "failure", reason
    decision = outcome.decision
    audit = _DECISION_AUDITS[decision.reason]
    if outcome.injection is None:
        warnings = decision.warnings if _created_directly(pod) else ()
        return allow(request, warnings, audit), "skip", decision.reason.value
    response = patched(request, outcome.injection.patch, outcome.warnings, audit)
    return response, "success", ""


def make_handler(
    get_config: Callable[[], InjectConfig], cluster_version: tuple[int, int] | None = None
) -> AdmissionHandler:
    """`get_config` returns the config in force (e.g. ConfigStore.get); `cluster_version` is the
    apiserver's (major, minor), learned at start-up, which nativeSidecars: auto needs."""

    def handle(request: AdmissionRequest) -> AdmissionResponse:
        start = time.perf_counter()
        outcome: metrics.Outcome = "failure"
        reason = "internal"  # raised: the server logs it with the uid and answers HTTP 500
        try:
            response, outcome, reason = _answer(request, get_config(), cluster_version)
            return response
        finally:
            metrics.METRICS.record(outcome, reason, time.perf_counter() - start)

    return handle
