"""DestinationRule: host, subsets, workload selector and exportTo; traffic policies elsewhere."""

from webhooks.validate import fields
from webhooks.validate.kinds import trafficpolicy
from webhooks.validate.kinds.common import check_export_to, check_workload_selector, present
from webhooks.validate.kinds.meta import Meta
from webhooks.validate.models.destinationrule import DestinationRule
from webhooks.validate.verdict import Verdict


def validate(spec: DestinationRule, meta: Meta) -> Verdict:
    v = Verdict()
    # Istio takes no IP address as a DestinationRule host (VirtualService hosts may be IPs).
    if problem := fields.wildcard_domain_error(spec.host):
        v.error(problem, "spec.host")
    if spec.traffic_policy is not None:
        trafficpolicy.check_traffic_policy(
            v, spec.traffic_policy, "spec.trafficPolicy", meta.namespace
        )
    names: set[str] = set()
    for path, subset in present(v, spec.subsets, "spec.subsets", "subset may not be null"):
        if subset.name in names:
            v.error(f"duplicate subset names: {subset.name}", f"{path}.name")
        names.add(subset.name)
        if not subset.name:
            v.error("subset name cannot be empty", f"{path}.name")
        elif not fields.is_dns1123_label(subset.name):
            v.error(f"subset name is invalid: {subset.name}", f"{path}.name")
        for message in fields.label_errors(subset.labels):
            v.error(message, f"{path}.labels")
        if subset.traffic_policy is not None:
            trafficpolicy.check_traffic_policy(
                v, subset.traffic_policy, f"{path}.trafficPolicy", meta.namespace
            )
    check_export_to(v, spec.export_to, meta.namespace)
    if spec.workload_selector is not None:
        _check_selected(v, spec, meta)
    return v


def _check_selected(v: Verdict, spec: DestinationRule, meta: Meta) -> None:
    check_workload_selector(
        v,
        spec.workload_selector,
        "spec.workloadSelector",
        "workload selector specified without labels",
    )
    if len(spec.export_to) > 1:
        v.error(
            "destination rule with workload selector cannot have multiple entries in exportTo",
            "spec.exportTo",
        )
    elif spec.export_to and spec.export_to[0] not in (".", meta.namespace):
        v.error(
            "destination rule with workload selector cannot have exportTo beyond current namespace",
            "spec.exportTo",
        )
