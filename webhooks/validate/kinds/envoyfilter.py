"""EnvoyFilter (patches, matches, the always-on warning) and ProxyConfig."""

from webhooks.validate import fields
from webhooks.validate.kinds.common import check_policy_target, check_workload_selector
from webhooks.validate.kinds.meta import Meta
from webhooks.validate.models.envoyfilter import (
    EnvoyConfigObjectPatch,
    EnvoyFilter,
    FilterMatch,
    ProxyConfig,
)
from webhooks.validate.verdict import Verdict

ALWAYS_WARNING = (
    "EnvoyFilter exposes internal implementation details that may change at any time. Prefer "
    "other APIs if possible, and exercise extreme caution, especially around upgrades."
)
_LISTENER_CLASS = frozenset(
    {"LISTENER", "FILTER_CHAIN", "NETWORK_FILTER", "HTTP_FILTER", "LISTENER_FILTER"}
)
_ROUTE_CLASS = frozenset({"ROUTE_CONFIGURATION", "VIRTUAL_HOST", "HTTP_ROUTE"})
_HCM = "envoy.filters.network.http_connection_manager"
_HCM_NAMES = frozenset({_HCM, "envoy.http_connection_manager"})
# Envoy's pre-1.14 filter names and their canonical names (Istio's table). `envoy.ext_authz`
# named both ext_authz filters; Istio picks one at random, we pick by network vs HTTP filter.
_DEPRECATED_NON_HTTP = {
    "envoy.client_ssl_auth": "envoy.filters.network.client_ssl_auth",
    "envoy.ext_authz": "envoy.filters.network.ext_authz",
    "envoy.http_connection_manager": _HCM,
    "envoy.mongo_proxy": "envoy.filters.network.mongo_proxy",
    "envoy.ratelimit": "envoy.filters.network.ratelimit",
    "envoy.redis_proxy": "envoy.filters.network.redis_proxy",
    "envoy.tcp_proxy": "envoy.filters.network.tcp_proxy",
    "envoy.listener.http_inspector": "envoy.filters.listener.http_inspector",
    "envoy.listener.original_dst": "envoy.filters.listener.original_dst",
    "envoy.listener.original_src": "envoy.filters.listener.original_src",
    "envoy.listener.proxy_protocol": "envoy.filters.listener.proxy_protocol",
    "envoy.listener.tls_inspector": "envoy.filters.listener.tls_inspector",
}
_DEPRECATED_HTTP = {
    **_DEPRECATED_NON_HTTP,
    **{
        f"envoy.{old}": f"envoy.filters.http.{new}"
        for old, new in [
            ("buffer", "buffer"),
            ("cors", "cors"),
            ("csrf", "csrf"),
            ("http_dynamo_filter", "dynamo"),
            ("ext_authz", "ext_authz"),
            ("fault", "fault"),
            ("grpc_http1_bridge", "grpc_http1_bridge"),
            ("grpc_json_transcoder", "grpc_json_transcoder"),
            ("grpc_web", "grpc_web"),
            ("gzip", "gzip"),
            ("health_check", "health_check"),
            ("ip_tagging", "ip_tagging"),
            ("lua", "lua"),
            ("rate_limit", "ratelimit"),
            ("router", "router"),
            ("squash", "squash"),
        ]
    },
}
_DEPRECATED_NETWORK = {**_DEPRECATED_HTTP, "envoy.ext_authz": "envoy.filters.network.ext_authz"}
_SELECTOR_WARNING = (
    "Envoy filter: workload selector specified without labels, will be applied to all services "
    "in namespace"
)


def validate(spec: EnvoyFilter, meta: Meta) -> Verdict:
    v = Verdict()
    v.warn(ALWAYS_WARNING)
    check_workload_selector(v, spec.workload_selector, "spec.workloadSelector", _SELECTOR_WARNING)
    if spec.workload_selector is not None and spec.target_refs:
        v.error("only one of targetRefs or workloadSelector can be set", "spec.targetRefs")
    for index, patch in enumerate(spec.config_patches):
        path = f"spec.configPatches[{index}]"
        if patch is None:
            v.error("Envoy filter: null config patch", path)
        else:
            _check_patch(v, patch, path)
    return v


def _check_patch(v: Verdict, patch: EnvoyConfigObjectPatch, path: str) -> None:
    match = patch.match
    if match is not None and match.context == "WAYPOINT":
        if match.listener or match.route_configuration or match.cluster:
            v.error("only support waypointMatch when context is WAYPOINT", f"{path}.match")
        port = match.waypoint.port_number if match.waypoint is not None else 0
        if port and (problem := fields.port_error(port)):
            v.error(problem, f"{path}.match.waypoint.portNumber")
        return
    if match is not None and match.waypoint is not None:
        v.error("only support waypointMatch when context is WAYPOINT", f"{path}.match")
    if patch.apply_to in (None, "INVALID"):
        v.error("Envoy filter: missing applyTo", path)
        return
    if patch.patch is None:
        v.error("Envoy filter: missing patch", path)
        return
    if patch.patch.operation in (None, "INVALID"):
        v.error("Envoy filter: missing patch operation", path)
        return
    if patch.patch.operation != "REMOVE" and not patch.patch.value:
        v.error("Envoy filter: missing patch value for non-remove operation", path)
        return
    if match is None:
        return
    if match.proxy is not None and match.proxy.proxy_version:
        version = match.proxy.proxy_version
        if len(version) > fields.MAX_REGEX_BYTES:
            v.warn(
                "Envoy filter: proxyVersion match exceeds 1024 characters and will be ignored", path
            )
        elif problem := fields.regex_error("proxyVersion", version):
            v.error(f"Envoy filter: invalid regex for proxy version, [{problem}]", path)
    _check_match_class(v, patch, path)


def _check_match_class(v: Verdict, patch: EnvoyConfigObjectPatch, path: str) -> None:
    match = patch.match
    assert match is not None
    apply_to = patch.apply_to or ""
    if apply_to in _LISTENER_CLASS:
        if match.route_configuration is not None or match.cluster is not None:
            v.error(
                "Envoy filter: applyTo for listener class objects cannot have non listener match",
                path,
            )
        chain = match.listener.filter_chain if match.listener else None
        if chain is not None and chain.filter is not None:
            _check_filter_match(v, apply_to, chain.filter, f"{path}.match.listener.filterChain")
    elif apply_to in _ROUTE_CLASS:
        if match.listener is not None or match.cluster is not None:
            v.error(
                "Envoy filter: applyTo for http route class objects cannot have non route "
                "configuration match",
                path,
            )
    elif apply_to == "CLUSTER" and (
        match.listener is not None or match.route_configuration is not None
    ):
        v.error(
            "Envoy filter: applyTo for cluster class objects cannot have non cluster match", path
        )


def _check_filter_match(v: Verdict, apply_to: str, match: FilterMatch, path: str) -> None:
    if apply_to in ("LISTENER", "FILTER_CHAIN"):
        # An error in principle; Istio keeps it a warning for compatibility.
        v.warn(f"Envoy filter: filter match has no effect when used with {apply_to}", path)
    path = f"{path}.filter"
    if not match.name:
        v.error("Envoy filter: filter match has no name to match on", path)
    elif new := _DEPRECATED_NETWORK.get(match.name):
        v.warn(_deprecated_name(match.name, new), path)
    if (sub := match.sub_filter) is None:
        return
    if apply_to != "HTTP_FILTER":
        v.error("Envoy filter: subfilter match can be used with applyTo HTTP_FILTER only", path)
    if match.name not in _HCM_NAMES:
        v.error(f"Envoy filter: subfilter match requires filter match with {_HCM}", path)
    if not sub.name:
        v.error("Envoy filter: subfilter match has no name to match on", f"{path}.subFilter")
    elif new := _DEPRECATED_HTTP.get(sub.name):
        v.warn(_deprecated_name(sub.name, new), f"{path}.subFilter")


def _deprecated_name(old: str, new: str) -> str:
    return (
        f"using deprecated filter name {fields.go_quote(old)}; use {fields.go_quote(new)} instead"
    )


def validate_proxy_config(spec: ProxyConfig, meta: Meta) -> Verdict:
    v = Verdict()
    check_policy_target(v, spec.selector, None, ())
    if spec.concurrency is not None and spec.concurrency < 0:
        v.error("concurrency must be greater than or equal to 0", "spec.concurrency")
    return v
