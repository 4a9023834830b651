"""One object in, one outcome out: the stages of Istio's webhook, for /validate and the CLI."""

import gc
from dataclasses import dataclass
from typing import Any, Literal

from webhooks.mesh import ALWAYS_REJECT_ANNOTATION as ALWAYS_REJECT
from webhooks.validate import decoding, registry
from webhooks.validate.kinds.meta import Meta
from webhooks.validate.verdict import Verdict, join_errors

Reason = Literal[
    "unsupported_operation",
    "yaml_decode_error",
    "unknown_type",
    "crd_conversion_error",
    "invalid_resource",
]
DRY_RUN = "istio.io/dry-run"
INTERNAL_ANNOTATIONS = ("internal.istio.io/parent-namespace", "internal.istio.io/parents")
TOP_LEVEL = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})
_GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True}
_GO_BOOLS |= {"0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


@dataclass(frozen=True)
class Outcome:
    allowed: bool
    message: str = ""
    reason: Reason | None = None
    warnings: tuple[str, ...] = ()


def _denied(reason: Reason, message: str) -> Outcome:
    return Outcome(allowed=False, message=message, reason=reason)


def validate_object(obj: Any, default_namespace: str = "") -> Outcome:
    """Decode, look up, check the schema, run the semantic rules, then check top-level fields.

    The cyclic collector is paused meanwhile: a big spec becomes many small model objects, and
    GC passes in the middle of building them rescan them all (superlinear). They hold no cycles,
    so refcounting frees them anyway. (Inline rather than a context manager: this is per request.)
    """
    if not gc.isenabled():
        return _validate(obj, default_namespace)
    gc.disable()
    try:
        return _validate(obj, default_namespace)
    finally:
        gc.enable()


def _validate(obj: Any, default_namespace: str) -> Outcome:
    if not isinstance(obj, dict):
        return _denied("yaml_decode_error", "cannot decode configuration: object is not a map")
    api_version, kind_name = obj.get("apiVersion"), obj.get("kind")
    metadata = obj.get("metadata", {})
    if not isinstance(api_version, str) or not isinstance(kind_name, str):
        return _denied(
            "yaml_decode_error", "cannot decode configuration: apiVersion and kind must be strings"
        )
    if not isinstance(metadata, dict):
        return _denied("yaml_decode_error", "cannot decode configuration: metadata must be a map")
    group, _, version = api_version.rpartition("/")
    kind = registry.lookup(group, kind_name)
    if kind is None:
        return _denied("unknown_type", f"unrecognized type {group}/{version}, Kind={kind_name}")
    meta = Meta.of(kind_name, metadata, default_namespace)
    if "spec" not in obj and kind.spec_required:
        return _denied("crd_conversion_error", "error decoding configuration: spec: Required value")
    spec = obj.get("spec")
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        actual = decoding.json_type(spec)
        message = f'error decoding configuration: spec in body must be of type object: "{actual}"'
        return _denied("crd_conversion_error", message)
    model, problems = decoding.decode(kind.model, spec)
    if model is None:
        message = f"error decoding configuration: {join_errors(problems)}"
        return _denied("crd_conversion_error", message)
    verdict = kind.rules(model, meta)
    if meta.annotations:  # most objects have none: skip the metadata checks altogether
        # Only AuthorizationPolicy has an action; a missing attribute costs an exception.
        action = getattr(model, "action", None) if DRY_RUN in meta.annotations else None
        found = check_metadata(meta, action)
        found.merge(verdict)  # Istio reports the metadata errors first
        verdict = found
    if verdict.errors:
        message = f"configuration is invalid: {join_errors(verdict.errors)}"
        return _denied("invalid_resource", message)
    for key in obj:
        if key not in TOP_LEVEL:
            message = f'unknown field "{key}" on {kind_name} resource {meta.namespace}/{meta.name}'
            return _denied("invalid_resource", message)
    return Outcome(allowed=True, warnings=tuple(verdict.warnings))


def check_metadata(meta: Meta, action: str | None) -> Verdict:
    """Istio's checks that wrap every kind: always-reject, internal annotations, dry-run."""
    v = Verdict()
    annotations = meta.annotations
    if ALWAYS_REJECT in annotations:
        v.error(f'"{ALWAYS_REJECT}" annotation found, rejecting')
    for name in INTERNAL_ANNOTATIONS:
        if name in annotations:
            v.error(f'"{name}" annotation found, this may not be set by users')
    if DRY_RUN not in annotations:
        return v
    where = f"{meta.namespace}/{meta.name}"
    if meta.kind != "AuthorizationPolicy":
        v.error(f"{where} has unsupported annotation {DRY_RUN}, please remove the annotation")
        return v
    value = str(annotations[DRY_RUN])
    if value not in _GO_BOOLS:
        v.error(
            f"{where} has annotation {DRY_RUN} with invalid value ({value}): "
            f'strconv.ParseBool: parsing "{value}": invalid syntax'
        )
    if (action or "ALLOW") not in ("ALLOW", "DENY"):
        v.error(
            f"the annotation {DRY_RUN} currently only supports action ALLOW/DENY, found action "
            f"{action} in {where}"
        )
    return v
