"""The /validate admission core: Istio's webhook answers, as a pure function."""

from webhooks.admission.responses import allow, audit_reason, deny
from webhooks.admission.review import AdmissionRequest, AdmissionResponse
from webhooks.validate import metrics, validator


def handle(request: AdmissionRequest) -> AdmissionResponse:
    """No log line of its own: the server's one `admission` line per request carries the uid,
    the object, the rejection message (`reason`) and, from the audit annotations, the metric's
    reason code (`audit.reason`), which the apiserver's audit log records too."""
    resource = (request.resource.group, request.resource.version, request.resource.resource)
    if request.operation not in ("CREATE", "UPDATE"):
        if not request.dry_run:
            metrics.METRICS.failed(resource, "unsupported_operation")
        return allow(request)
    if request.object is None:
        outcome = validator.Outcome(
            allowed=False,
            message="cannot decode configuration: the request has no object",
            reason="yaml_decode_error",
        )
    else:
        outcome = validator.validate_object(request.object, request.namespace)
    if outcome.allowed:
        metrics.METRICS.passed(resource)
        return allow(request, outcome.warnings)
    reason = outcome.reason or "invalid_resource"
    if not request.dry_run:
        metrics.METRICS.failed(resource, reason)
    # Istio sets only the message: no code, no reason (the apiserver fills them in).
    return deny(request, outcome.message, code=None, audit=audit_reason(reason))
