"""Whether a pod that reached the webhook gets a sidecar, and why: a pure function of the pod.

The chart's webhook selectors decide which pods reach us at all (docs/injection.md has the whole
table). Inside, the first rule that applies wins:

    1. spec.hostNetwork: true                          skip  host-network
    2. namespace in config.ignoredNamespaces           skip  ignored-namespace
    3. label sidecar.istio.io/inject "true"/"false"    inject/skip  label-true/-false
       else annotation of the same name (deprecated)   inject/skip  annotation-true/-false
       any other value of either is ignored, with a warning
    4. config.neverInjectSelector matches              skip  never-inject-selector
    5. config.alwaysInjectSelector matches             inject  always-inject-selector
    6. config.policy                                   policy-enabled / policy-disabled
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from webhooks import mesh
from webhooks.inject.config import InjectConfig, LabelSelector


class Reason(StrEnum):
    HOST_NETWORK = "host-network"
    IGNORED_NAMESPACE = "ignored-namespace"
    LABEL_TRUE = "label-true"
    LABEL_FALSE = "label-false"
    ANNOTATION_TRUE = "annotation-true"
    ANNOTATION_FALSE = "annotation-false"
    NEVER_INJECT_SELECTOR = "never-inject-selector"
    ALWAYS_INJECT_SELECTOR = "always-inject-selector"
    POLICY_ENABLED = "policy-enabled"
    POLICY_DISABLED = "policy-disabled"


MESSAGES = {
    Reason.HOST_NETWORK: "pod uses the host network",
    Reason.IGNORED_NAMESPACE: "namespace is ignored by the injector",
    Reason.LABEL_TRUE: "pod label sidecar.istio.io/inject is true",
    Reason.LABEL_FALSE: "pod label sidecar.istio.io/inject is false",
    Reason.ANNOTATION_TRUE: "pod annotation sidecar.istio.io/inject (deprecated) is true",
    Reason.ANNOTATION_FALSE: "pod annotation sidecar.istio.io/inject (deprecated) is false",
    Reason.NEVER_INJECT_SELECTOR: "pod labels match the neverInjectSelector",
    Reason.ALWAYS_INJECT_SELECTOR: "pod labels match the alwaysInjectSelector",
    Reason.POLICY_ENABLED: "injection policy is enabled",
    Reason.POLICY_DISABLED: "injection policy is disabled",
}


@dataclass(frozen=True)
class Decision:
    inject: bool
    reason: Reason
    warnings: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        verdict = "inject" if self.inject else "skip"
        return f"{verdict}: {MESSAGES[self.reason]}"


def _explicit(
    labels: Mapping[str, str], annotations: Mapping[str, str]
) -> tuple[Decision | None, tuple[str, ...]]:
    """Step 3: the label beats the deprecated annotation; other values count as unset."""
    warnings: list[str] = []
    for source, values in (("label", labels), ("annotation", annotations)):
        value = values.get(mesh.INJECT_LABEL)
        if value is None:
            continue
        if value in ("true", "false"):
            reason = Reason(f"{source}-{value}")
            if source == "annotation":
                effect = (
                    "cannot make the webhook see a pod"
                    if value == "true"
                    else "still sends the pod to the webhook, which blocks it if down"
                )
                warnings.append(
                    f"the annotation {mesh.INJECT_ANNOTATION}={value} is deprecated and {effect};"
                    f" use the label {mesh.INJECT_LABEL}={value}"
                )
            return Decision(value == "true", reason, tuple(warnings)), ()
        if value != "":
            warnings.append(
                f"{source} {mesh.INJECT_LABEL}={value!r} is ignored: "
                "only 'true' and 'false' are accepted"
            )
        if source == "label":
            break  # a present label, even a bad one, hides the annotation
    return None, tuple(warnings)


# The decisions without warnings, made once: most pods get one of them.
_INJECTING = (
    Reason.LABEL_TRUE, Reason.ANNOTATION_TRUE, Reason.ALWAYS_INJECT_SELECTOR, Reason.POLICY_ENABLED
)  # fmt: skip
_PLAIN = {reason: Decision(reason in _INJECTING, reason) for reason in Reason}


def _verdict(reason: Reason, warnings: tuple[str, ...]) -> Decision:
    return Decision(reason in _INJECTING, reason, warnings) if warnings else _PLAIN[reason]


def _matches(selectors: tuple[LabelSelector, ...], labels: dict[str, str]) -> bool:
    # Most configs have no selectors: no generator for them.
    return bool(selectors) and any(s.matches(labels) for s in selectors if not s.empty)


_EMPTY: dict[str, Any] = {}  # read-only


def decide(pod: Mapping[str, Any], namespace: str, config: InjectConfig) -> Decision:
    # A part that is not a map reads as empty: injection then refuses the pod with a message
    # (pod._owned), and a skipped one is the apiserver's to reject. Inline: this runs per pod.
    spec, metadata = pod.get("spec"), pod.get("metadata")
    spec = spec if isinstance(spec, dict) else _EMPTY
    metadata = metadata if isinstance(metadata, dict) else _EMPTY
    if spec.get("hostNetwork"):
        return _PLAIN[Reason.HOST_NETWORK]
    own = metadata.get("namespace")  # the request's namespace, unless the pod names one
    if (own if isinstance(own, str) and own else namespace) in config.ignored_namespaces:
        return _PLAIN[Reason.IGNORED_NAMESPACE]
    labels, annotations = metadata.get("labels"), metadata.get("annotations")
    labels = labels if isinstance(labels, dict) else _EMPTY
    annotations = annotations if isinstance(annotations, dict) else _EMPTY
    warnings: tuple[str, ...] = ()
    if mesh.INJECT_LABEL in labels or mesh.INJECT_ANNOTATION in annotations:
        explicit, warnings = _explicit(labels, annotations)
        if explicit is not None:
            return explicit
    if _matches(config.never_inject_selector, labels):
        return _verdict(Reason.NEVER_INJECT_SELECTOR, warnings)
    if _matches(config.always_inject_selector, labels):
        return _verdict(Reason.ALWAYS_INJECT_SELECTOR, warnings)
    if config.policy == "enabled":
        return _verdict(Reason.POLICY_ENABLED, warnings)
    return _verdict(Reason.POLICY_DISABLED, warnings)
