"""Rules several kinds share: exportTo, selectors, targetRefs, destinations, host overlap."""

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from webhooks.validate import fields
from webhooks.validate.models.base import LabelSelector, PolicyTargetReference, WorkloadSelector
from webhooks.validate.models.virtualservice import Destination
from webhooks.validate.verdict import Verdict

POLICY_TARGET_KINDS = (
    ("", "Service"),
    ("networking.istio.io", "ServiceEntry"),
    ("gateway.networking.k8s.io", "Gateway"),
    ("gateway.networking.k8s.io", "GatewayClass"),
)
Item = TypeVar("Item")


def check_export_to(
    v: Verdict, export_to: Sequence[str], namespace: str, service_entry: bool = False
) -> None:
    path = "spec.exportTo"
    seen: set[str] = set()
    for entry in export_to:
        if entry in seen:
            v.error(f"duplicate entries in exportTo for entry {entry}", path)
        seen.add(entry)
        if entry == "~" and not service_entry:
            v.error("exportTo ~ (none) is not allowed for Istio configuration objects", path)
        elif entry not in (".", "*", "~") and not fields.is_dns1123_label(entry):
            v.error("only .,*, or a valid DNS 1123 label is allowed as exportTo entry", path)
    if "." in seen and namespace in seen:
        v.error(f"duplicate entries in exportTo: . and current namespace {namespace}", path)
    if "*" in seen and len(seen) > 1:
        v.error("cannot have both public (*) and non-public exportTo values for a resource", path)
    if "~" in seen and len(seen) > 1:
        v.error("cannot export service entry to no one (~) and someone", path)


def present(
    v: Verdict, items: Iterable[Item | None], path: str, null_error: str
) -> Iterator[tuple[str, Item]]:
    """The list's non-null items with their field paths; each null item is `null_error` there."""
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        if item is None:
            v.error(null_error, where)
        else:
            yield where, item


def check_selector_labels(v: Verdict, labels: dict[str, str], path: str) -> None:
    for message in fields.selector_errors(labels):
        v.error(message, path)


def check_workload_selector(
    v: Verdict, selector: WorkloadSelector | LabelSelector | None, path: str, warning: str
) -> None:
    """networking.istio.io's selector (`labels`) or type.istio.io's (`matchLabels`, used by
    DestinationRule): same rules, different field name."""
    if selector is None:
        return
    if isinstance(selector, LabelSelector):
        labels, field = selector.match_labels, "matchLabels"
    else:
        labels, field = selector.labels, "labels"
    if not labels:
        v.warn(warning, path)
    check_selector_labels(v, labels, f"{path}.{field}")


def check_policy_target(
    v: Verdict,
    selector: LabelSelector | None,
    target_ref: PolicyTargetReference | None,
    target_refs: Sequence[PolicyTargetReference],
) -> None:
    """The selector/targetRef rules of the security, telemetry and extension kinds."""
    refs = [*([target_ref] if target_ref else []), *target_refs]
    if target_ref is not None and target_refs:
        v.error("only one of targetRefs or targetRef can be set", "spec.targetRef")
    if selector is not None and refs:
        v.error("only one of targetRefs or workloadSelector can be set", "spec.selector")
    if selector is not None:
        check_selector_labels(v, selector.match_labels, "spec.selector.matchLabels")
    allowed = " ".join(f"{group}/{kind}" for group, kind in POLICY_TARGET_KINDS)
    for index, ref in enumerate(refs):
        path = "spec.targetRef" if ref is target_ref else f"spec.targetRefs[{index}]"
        if not ref.name:
            v.error("targetRef name must be set", path)
        if ref.namespace:
            v.error(
                "targetRef namespace must not be set; cross namespace referencing is not supported",
                path,
            )
        if (ref.group, ref.kind) not in POLICY_TARGET_KINDS:
            v.error(f"targetRef must be to one of [{allowed}] but was {ref.group}/{ref.kind}", path)


def check_destination(v: Verdict, destination: Destination, path: str) -> None:
    for message, field in destination_errors(destination):
        v.error(message, f"{path}{field}")


def destination_errors(destination: Destination) -> list[tuple[str, str]]:
    """Istio's destination rules as (message, field under the destination) pairs, so that hot
    callers format the field path only when something is wrong."""
    errors = []
    if destination.host == "*":
        errors.append(("invalid destination host *", ".host"))
    # Unlike VirtualService hosts, Istio takes no IP address as a destination host.
    elif problem := fields.wildcard_domain_error(destination.host):
        errors.append((problem, ".host"))
    if destination.subset and not fields.is_dns1123_label(destination.subset):
        errors.append((f"subset name is invalid: {destination.subset}", ".subset"))
    port = destination.port.number if destination.port is not None else 0
    if port and (problem := fields.port_error(port)):
        errors.append((problem, ".port.number"))
    return errors


def check_port(v: Verdict, port: int, path: str) -> None:
    problem = fields.port_error(port)
    if problem:
        v.error(problem, path)


def check_duration(v: Verdict, value: str, path: str) -> None:
    if value:
        problem = fields.duration_error(value)
        if problem:
            v.error(problem, path)


def host_covers(wide: str, narrow: str) -> bool:
    """Whether every name `narrow` matches is matched by `wide` (wildcards on the left)."""
    if wide == narrow or wide == "*":
        return True
    if wide.startswith("*"):
        return narrow.removeprefix("*").endswith(wide[1:])
    return False


def hosts_overlap(a: str, b: str) -> bool:
    return host_covers(a, b) or host_covers(b, a)


def check_sources(v: Verdict, labels: dict[str, str], gateways: list[str], path: str) -> None:
    """A route match's sourceLabels and gateways (HTTP, TLS and TCP alike)."""
    if labels:
        for message in fields.label_errors(labels):
            v.error(message, f"{path}.sourceLabels")
    if gateways:
        check_gateway_names(v, gateways, f"{path}.gateways")


def check_gateway_names(
    v: Verdict, gateways: Sequence[str], path: str, gateway_semantics: bool = False
) -> None:
    """Istio's validateGatewayNames: `<namespace>/<name>` with DNS-1123 labels, or a legacy FQDN.

    Istio stops at the first name without a slash (`mesh` included), so the names after it are
    not checked; `gateway_semantics` (istiod's Gateway API conversions) lifts the name rule."""
    for index, gateway in enumerate(gateways):
        where = f"{path}[{index}]"
        namespace, slash, name = gateway.partition("/")
        if not slash:
            if "." in gateway:
                labels = gateway.split(".")
                v.warn(
                    f"using legacy gatewayName format {fields.go_quote(gateway)}; prefer the "
                    f"<namespace>/<name> format: {fields.go_quote(f'{labels[1]}/{labels[0]}')}",
                    where,
                )
            if problem := fields.fqdn_error(gateway):
                v.error(problem, where)
            return
        if not namespace or not name:
            v.error("config namespace and gateway name cannot be empty", where)
        if not fields.is_dns1123_label(namespace):
            v.error(f"invalid value for namespace: {fields.go_quote(namespace)}", where)
        if not gateway_semantics and not fields.is_dns1123_label(name):
            v.error(f"invalid value for gateway name: {fields.go_quote(name)}", where)
