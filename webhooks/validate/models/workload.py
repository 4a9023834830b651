"""networking.istio.io ServiceEntry, WorkloadEntry and WorkloadGroup."""

from typing import Literal

from pydantic import Field

from webhooks.validate.models.base import Int32, Model, UInt32, WorkloadSelector


class WorkloadEntry(Model):
    """A non-Kubernetes workload (a VM, a bare-metal host) with its address and ports."""

    address: str = ""
    ports: dict[str, UInt32] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    network: str = ""
    locality: str = ""
    weight: UInt32 = 0
    service_account: str = ""


class ServicePort(Model):
    number: UInt32
    protocol: str = ""
    name: str
    target_port: UInt32 = 0


class ServiceEntry(Model):
    """A service, usually outside the mesh, added to Istio's registry."""

    hosts: list[str]
    addresses: list[str] = Field(default_factory=list)
    ports: list[ServicePort] = Field(default_factory=list)
    location: Literal["MESH_EXTERNAL", "MESH_INTERNAL"] | None = None
    resolution: Literal["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"] | None = None
    endpoints: list[WorkloadEntry | None] = Field(default_factory=list)
    workload_selector: WorkloadSelector | None = None
    export_to: list[str] = Field(default_factory=list)
    subject_alt_names: list[str] = Field(default_factory=list)


class ObjectMeta(Model):
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class HTTPHeader(Model):
    name: str = ""
    value: str = ""


class HTTPHealthCheckConfig(Model):
    path: str = ""
    port: UInt32
    host: str = ""
    scheme: str = ""
    http_headers: list[HTTPHeader | None] = Field(default_factory=list)


class TCPHealthCheckConfig(Model):
    host: str = ""
    port: UInt32


class ExecHealthCheckConfig(Model):
    command: list[str] = Field(default_factory=list)


class GrpcHealthCheckConfig(Model):
    port: UInt32
    service: str = ""


class ReadinessProbe(Model):
    initial_delay_seconds: Int32 = 0
    timeout_seconds: Int32 = 0
    period_seconds: Int32 = 0
    success_threshold: Int32 = 0
    failure_threshold: Int32 = 0
    http_get: HTTPHealthCheckConfig | None = None
    tcp_socket: TCPHealthCheckConfig | None = None
    exec: ExecHealthCheckConfig | None = None
    grpc: GrpcHealthCheckConfig | None = None


class WorkloadGroup(Model):
    """A template for WorkloadEntries created by auto-registration."""

    metadata: ObjectMeta | None = None
    template: WorkloadEntry
    probe: ReadinessProbe | None = None
