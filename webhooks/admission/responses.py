"""Building AdmissionResponses: allow, deny, patch, warn. The request uid is always echoed.

`audit` becomes the response's auditAnnotations: the apiserver records them in the request's
audit event, and the server writes them into its log line for the request. Both webhooks put
their reason code there (`audit_reason`).
"""

import base64
import json
from collections.abc import Sequence
from typing import Any

import pybase64

from webhooks.admission import jsontext
from webhooks.admission.review import AdmissionRequest, AdmissionResponse, Status

JsonPatch = Sequence[dict[str, Any]]
Audit = dict[str, str] | None

# The apiserver prefixes it with the webhook's name: e.g. validation.istio.io/reason.
AUDIT_REASON = "reason"


def audit_reason(reason: str) -> dict[str, str]:
    """The audit annotations that say why a webhook answered as it did."""
    return {AUDIT_REASON: reason}


def allow(
    request: AdmissionRequest, warnings: Sequence[str] = (), audit: Audit = None
) -> AdmissionResponse:
    return AdmissionResponse(
        uid=request.uid, allowed=True, warnings=list(warnings) or None, audit_annotations=audit
    )


def deny(
    request: AdmissionRequest,
    message: str,
    code: int | None = 400,  # None: the apiserver fills it in
    warnings: Sequence[str] = (),
    audit: Audit = None,
) -> AdmissionResponse:
    return AdmissionResponse(
        uid=request.uid,
        allowed=False,
        status=Status(code=code, message=message),
        warnings=list(warnings) or None,
        audit_annotations=audit,
    )


def patched(
    request: AdmissionRequest,
    operations: JsonPatch,
    warnings: Sequence[str] = (),
    audit: Audit = None,
) -> AdmissionResponse:
    """Allow with an RFC 6902 patch. An empty patch sends neither patch nor patchType."""
    if not operations:
        return allow(request, warnings, audit)
    ops = operations if isinstance(operations, list) else list(operations)
    # SIMD, ~15x the stdlib's speed, and straight to str: no second 6 KB copy per pod.
    encoded = pybase64.b64encode_as_string(jsontext.dump_bytes(ops))
    return AdmissionResponse(
        uid=request.uid,
        allowed=True,
        patch=encoded,
        patch_type="JSONPatch",
        warnings=list(warnings) or None,
        audit_annotations=audit,
    )


def decoded_patch(response: AdmissionResponse) -> list[dict[str, Any]]:
    """The JSON Patch carried by a response, or [] when there is none."""
    if response.patch is None:
        return []
    operations: list[dict[str, Any]] = json.loads(base64.b64decode(response.patch))
    return operations
