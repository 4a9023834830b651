"""The /validate admission core: Istio's webhook answers, as a pure function."""

import logging

from webhooks.admission.responses import allow
from webhooks.admission.review import AdmissionRequest, AdmissionResponse, Status
from webhooks.validate import metrics, validator

logger = logging.getLogger(__name__)


def handle(request: AdmissionRequest) -> AdmissionResponse:
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
    if not request.dry_run:
        metrics.METRICS.failed(resource, outcome.reason or "invalid_resource")
    if not outcome.message.endswith("annotation found, rejecting"):
        logger.info(
            "configuration rejected",
            extra={"uid": request.uid, "reason": outcome.reason, "error": outcome.message},
        )
    # Istio sets only the message: no code, no reason (the apiserver fills them in).
    return AdmissionResponse(uid=request.uid, allowed=False, status=Status(message=outcome.message))
