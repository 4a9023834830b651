"""networking.istio.io DestinationRule (its TLS and connection-pool types are shared)."""

from typing import Literal

from pydantic import Field

from webhooks.validate.models.base import (
    Duration,
    Int32,
    LabelSelector,
    Model,
    Percent,
    PortSelector,
    UInt32,
    UInt64,
)


class Cookie(Model):
    name: str = ""
    path: str = ""
    ttl: Duration = ""
    attributes: list["CookieAttribute"] = Field(default_factory=list)


class CookieAttribute(Model):
    name: str = ""
    value: str = ""


class RingHash(Model):
    minimum_ring_size: UInt64 = 0


class MagLev(Model):
    table_size: UInt64 = 0


class ConsistentHashLB(Model):
    http_header_name: str = ""
    http_cookie: Cookie | None = None
    use_source_ip: bool = False
    http_query_parameter_name: str = ""
    ring_hash: RingHash | None = None
    maglev: MagLev | None = None
    minimum_ring_size: UInt64 = 0


class Distribute(Model):
    from_: str = Field(default="", alias="from")
    to: dict[str, UInt32] = Field(default_factory=dict)


class Failover(Model):
    from_: str = Field(default="", alias="from")
    to: str = ""


class LocalityLoadBalancerSetting(Model):
    distribute: list[Distribute] = Field(default_factory=list)
    failover: list[Failover] = Field(default_factory=list)
    failover_priority: list[str] = Field(default_factory=list)
    enabled: bool | None = None


class ZoneAwareLoadBalancerSetting(Model):
    enabled: bool | None = None
    failover: list[Failover] = Field(default_factory=list)
    failover_priority: list[str] = Field(default_factory=list)
    min_cluster_size: UInt32 | None = None


class WarmupConfiguration(Model):
    duration: Duration
    minimum_percent: float | None = None
    aggression: float | None = None


class LoadBalancerSettings(Model):
    simple: (
        Literal[
            "UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"
        ]
        | None
    ) = None
    consistent_hash: ConsistentHashLB | None = None
    locality_lb_setting: LocalityLoadBalancerSetting | None = None
    zone_aware_lb_setting: ZoneAwareLoadBalancerSetting | None = None
    warmup_duration_secs: Duration = ""
    warmup: WarmupConfiguration | None = None


class TcpKeepalive(Model):
    probes: UInt32 = 0
    time: Duration = ""
    interval: Duration = ""


class TCPSettings(Model):
    max_connections: Int32 = 0
    connect_timeout: Duration = ""
    tcp_keepalive: TcpKeepalive | None = None
    max_connection_duration: Duration = ""
    idle_timeout: Duration = ""


class Http2KeepAlive(Model):
    interval: Duration = ""
    timeout: Duration = ""


class HTTPSettings(Model):
    http1_max_pending_requests: Int32 = 0
    http2_max_requests: Int32 = 0
    max_requests_per_connection: Int32 = 0
    max_retries: Int32 = 0
    idle_timeout: Duration = ""
    h2_upgrade_policy: Literal["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"] | None = None
    use_client_protocol: bool = False
    max_concurrent_streams: Int32 = 0
    http2_keep_alive: Http2KeepAlive | None = None


class ConnectionPoolSettings(Model):
    tcp: TCPSettings | None = None
    http: HTTPSettings | None = None


class OutlierDetection(Model):
    split_external_local_origin_errors: bool = False
    consecutive_local_origin_failures: UInt32 | None = None
    consecutive_gateway_errors: UInt32 | None = None
    consecutive_5xx_errors: UInt32 | None = Field(default=None, alias="consecutive5xxErrors")
    interval: Duration = ""
    base_ejection_time: Duration = ""
    max_ejection_percent: Int32 = 0
    min_health_percent: Int32 = 0
    consecutive_errors: Int32 = 0


class ClientTLSSettings(Model):
    mode: Literal["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"] | None = None
    client_certificate: str = ""
    private_key: str = ""
    ca_certificates: str = ""
    credential_name: str = ""
    subject_alt_names: list[str] = Field(default_factory=list)
    sni: str = ""
    insecure_skip_verify: bool | None = None
    ca_crl: str = ""


class TunnelSettings(Model):
    protocol: str = ""
    target_host: str = ""
    target_port: UInt32 = 0


class ProxyProtocol(Model):
    version: Literal["V1", "V2"] | None = None


class RetryBudget(Model):
    percent: Percent | None = None
    min_retry_concurrency: UInt32 = 0


class PortTrafficPolicy(Model):
    port: PortSelector | None = None
    load_balancer: LoadBalancerSettings | None = None
    connection_pool: ConnectionPoolSettings | None = None
    outlier_detection: OutlierDetection | None = None
    tls: ClientTLSSettings | None = None


class TrafficPolicy(Model):
    load_balancer: LoadBalancerSettings | None = None
    connection_pool: ConnectionPoolSettings | None = None
    outlier_detection: OutlierDetection | None = None
    tls: ClientTLSSettings | None = None
    port_level_settings: list[PortTrafficPolicy] = Field(default_factory=list)
    tunnel: TunnelSettings | None = None
    proxy_protocol: ProxyProtocol | None = None
    retry_budget: RetryBudget | None = None


class Subset(Model):
    name: str
    labels: dict[str, str] = Field(default_factory=dict)
    traffic_policy: TrafficPolicy | None = None


class DestinationRule(Model):
    """Policies applied to traffic for a service after routing."""

    host: str
    traffic_policy: TrafficPolicy | None = None
    subsets: list[Subset | None] = Field(default_factory=list)
    export_to: list[str] = Field(default_factory=list)
    workload_selector: LabelSelector | None = None
    """type.istio.io's WorkloadSelector (`matchLabels`), unlike Sidecar's and EnvoyFilter's."""
