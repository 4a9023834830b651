"""networking.istio.io EnvoyFilter (v1alpha3) and ProxyConfig (v1beta1)."""

from typing import Literal

from pydantic import Field

from webhooks.validate.models.base import (
    Int32,
    LabelSelector,
    Model,
    PolicyTargetReference,
    Struct,
    UInt32,
    WorkloadSelector,
)

ApplyTo = Literal[
    "INVALID",
    "LISTENER",
    "FILTER_CHAIN",
    "NETWORK_FILTER",
    "HTTP_FILTER",
    "ROUTE_CONFIGURATION",
    "VIRTUAL_HOST",
    "HTTP_ROUTE",
    "CLUSTER",
    "EXTENSION_CONFIG",
    "BOOTSTRAP",
    "LISTENER_FILTER",
]
PatchContext = Literal["ANY", "SIDECAR_INBOUND", "SIDECAR_OUTBOUND", "GATEWAY", "WAYPOINT"]
Operation = Literal[
    "INVALID",
    "MERGE",
    "ADD",
    "REMOVE",
    "INSERT_BEFORE",
    "INSERT_AFTER",
    "INSERT_FIRST",
    "REPLACE",
    "MERGE_AND_REPLACE_LIST",
]


class ProxyMatch(Model):
    proxy_version: str = ""
    metadata: dict[str, str] = Field(default_factory=dict)


class SubFilterMatch(Model):
    name: str = ""


class FilterMatch(Model):
    name: str = ""
    sub_filter: SubFilterMatch | None = None


class FilterChainMatch(Model):
    name: str = ""
    sni: str = ""
    transport_protocol: str = ""
    application_protocols: str = ""
    filter: FilterMatch | None = None
    destination_port: UInt32 = 0


class ListenerMatch(Model):
    port_number: UInt32 = 0
    port_name: str = ""
    filter_chain: FilterChainMatch | None = None
    listener_filter: str = ""
    name: str = ""


class RouteMatch(Model):
    name: str = ""
    action: Literal["ANY", "ROUTE", "REDIRECT", "DIRECT_RESPONSE"] | None = None


class VirtualHostMatch(Model):
    name: str = ""
    route: RouteMatch | None = None
    domain_name: str = ""


class RouteConfigurationMatch(Model):
    port_number: UInt32 = 0
    port_name: str = ""
    gateway: str = ""
    vhost: VirtualHostMatch | None = None
    name: str = ""


class ClusterMatch(Model):
    port_number: UInt32 = 0
    service: str = ""
    subset: str = ""
    name: str = ""


class WaypointRouteMatch(Model):
    name: str = ""


class WaypointMatch(Model):
    filter: FilterMatch | None = None
    route: WaypointRouteMatch | None = None
    port_number: UInt32 = 0


class EnvoyConfigObjectMatch(Model):
    context: PatchContext | None = None
    proxy: ProxyMatch | None = None
    listener: ListenerMatch | None = None
    route_configuration: RouteConfigurationMatch | None = None
    cluster: ClusterMatch | None = None
    waypoint: WaypointMatch | None = None


class Patch(Model):
    operation: Operation | None = None
    value: Struct | None = None
    filter_class: Literal["UNSPECIFIED", "AUTHN", "AUTHZ", "STATS"] | None = None


class EnvoyConfigObjectPatch(Model):
    apply_to: ApplyTo | None = None
    match: EnvoyConfigObjectMatch | None = None
    patch: Patch | None = None


class EnvoyFilter(Model):
    """Low-level patches to the Envoy configuration Istio generates."""

    workload_selector: WorkloadSelector | None = None
    target_refs: list[PolicyTargetReference] = Field(default_factory=list)
    config_patches: list[EnvoyConfigObjectPatch | None] = Field(default_factory=list)
    priority: Int32 = 0


class ProxyImage(Model):
    image_type: str = ""


class ProxyConfig(Model):
    """Proxy-level settings for the workloads it selects."""

    selector: LabelSelector | None = None
    concurrency: Int32 | None = None
    environment_variables: dict[str, str] = Field(default_factory=dict)
    image: ProxyImage | None = None
