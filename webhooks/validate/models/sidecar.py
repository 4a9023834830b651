"""networking.istio.io Sidecar."""

from typing import Literal

from pydantic import Field

from webhooks.validate.models.base import Model, UInt32, WorkloadSelector
from webhooks.validate.models.destinationrule import ConnectionPoolSettings
from webhooks.validate.models.gateway import ServerTLSSettings
from webhooks.validate.models.virtualservice import Destination

CaptureMode = Literal["DEFAULT", "IPTABLES", "NONE"]


class SidecarPort(Model):
    number: UInt32 = 0
    protocol: str = ""
    name: str = ""
    target_port: UInt32 = 0


class IstioIngressListener(Model):
    port: SidecarPort | None = None
    bind: str = ""
    capture_mode: CaptureMode | None = None
    default_endpoint: str = ""
    tls: ServerTLSSettings | None = None
    connection_pool: ConnectionPoolSettings | None = None


class IstioEgressListener(Model):
    port: SidecarPort | None = None
    bind: str = ""
    capture_mode: CaptureMode | None = None
    hosts: list[str] = Field(default_factory=list)


class OutboundTrafficPolicy(Model):
    mode: Literal["REGISTRY_ONLY", "ALLOW_ANY", "ALLOW_ANY_DYNAMIC_DNS"] | None = None
    egress_proxy: Destination | None = None


class Sidecar(Model):
    """The listeners and reachable hosts of the proxies it selects."""

    workload_selector: WorkloadSelector | None = None
    ingress: list[IstioIngressListener | None] = Field(default_factory=list)
    egress: list[IstioEgressListener | None] = Field(default_factory=list)
    inbound_connection_pool: ConnectionPoolSettings | None = None
    outbound_traffic_policy: OutboundTrafficPolicy | None = None
