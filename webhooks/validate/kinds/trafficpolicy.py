"""DestinationRule traffic policies: load balancing, connection pools, outlier detection, TLS."""

from collections.abc import Iterable

from webhooks.validate import fields
from webhooks.validate.kinds.common import check_duration, check_port
from webhooks.validate.models.destinationrule import (
    ClientTLSSettings,
    ConnectionPoolSettings,
    Failover,
    LoadBalancerSettings,
    LocalityLoadBalancerSetting,
    OutlierDetection,
    PortTrafficPolicy,
    TrafficPolicy,
    TunnelSettings,
)
from webhooks.validate.verdict import Verdict

_MAGLEV_MAX = 5000011
CONFIGMAP_PREFIX = "configmap://"


def check_traffic_policy(v: Verdict, policy: TrafficPolicy, path: str, namespace: str) -> None:
    """A DestinationRule's (or subset's) traffic policy; `namespace` is the rule's own."""
    if not policy.model_fields_set - {"port_level_settings"} and not policy.port_level_settings:
        v.error("traffic policy must have at least one field", path)
    _check_parts(v, policy, path, namespace)
    if policy.tunnel is not None and policy.proxy_protocol is not None:
        v.error("tunnel and proxyProtocol must not be set together", path)
    if policy.tunnel is not None:
        _check_tunnel(v, policy.tunnel, f"{path}.tunnel")
    for index, port_policy in enumerate(policy.port_level_settings):
        where = f"{path}.portLevelSettings[{index}]"
        if port_policy.port is None or not port_policy.port.number:
            v.error("portTrafficPolicy must have valid port", where)
        else:
            check_port(v, port_policy.port.number, f"{where}.port.number")
        if not port_policy.model_fields_set - {"port"}:
            v.error("port traffic policy must have at least one field", where)
        _check_parts(v, port_policy, where, namespace)


def _check_parts(
    v: Verdict, policy: TrafficPolicy | PortTrafficPolicy, path: str, namespace: str
) -> None:
    if policy.load_balancer is not None:
        _check_load_balancer(v, policy.load_balancer, f"{path}.loadBalancer")
        locality = policy.load_balancer.locality_lb_setting
        zone_aware = policy.load_balancer.zone_aware_lb_setting
        failover = any(
            setting is not None and (setting.failover or setting.failover_priority)
            for setting in (locality, zone_aware)
        )
        if failover and policy.outlier_detection is None:
            v.warn("outlier detection policy must be provided for failover", path)
    if policy.connection_pool is not None:
        check_connection_pool(v, policy.connection_pool, f"{path}.connectionPool")
    if policy.outlier_detection is not None:
        _check_outlier(v, policy.outlier_detection, f"{path}.outlierDetection")
    if policy.tls is not None:
        _check_client_tls(v, policy.tls, f"{path}.tls", namespace)


def _check_tunnel(v: Verdict, tunnel: TunnelSettings, path: str) -> None:
    if tunnel.protocol not in ("", "CONNECT", "POST"):
        v.error('tunnel protocol must be "CONNECT" or "POST"', f"{path}.protocol")
    host = tunnel.target_host
    if not fields.is_ip(host) and (problem := fields.fqdn_error(host)):
        v.error(f"tunnel target host must be valid FQDN or IP address: {problem}", path)
    if problem := fields.port_error(tunnel.target_port):
        v.error(f"tunnel target port is invalid: {problem}", f"{path}.targetPort")


def check_connection_pool(v: Verdict, pool: ConnectionPoolSettings, path: str) -> None:
    if pool.http is None and pool.tcp is None:
        v.error("connection pool must have at least one field", path)
    if (http := pool.http) is not None:
        where = f"{path}.http"
        for value, what in (
            (http.http1_max_pending_requests, "http1 max pending requests"),
            (http.http2_max_requests, "http2 max requests"),
            (http.max_requests_per_connection, "max requests per connection"),
            (http.max_retries, "max retries"),
            (http.max_concurrent_streams, "max concurrent streams"),
        ):
            if value < 0:
                v.error(f"{what} must be non-negative", where)
        check_duration(v, http.idle_timeout, f"{where}.idleTimeout")
        if http.use_client_protocol and http.h2_upgrade_policy == "UPGRADE":
            v.error("use client protocol must not be true when H2UpgradePolicy is UPGRADE", where)
        if (keepalive := http.http2_keep_alive) is not None:
            if not keepalive.interval:
                v.error("http2 keepalive interval is required", f"{where}.http2KeepAlive")
            if not keepalive.timeout:
                v.error("http2 keepalive timeout is required", f"{where}.http2KeepAlive")
            check_duration(v, keepalive.interval, f"{where}.http2KeepAlive.interval")
            check_duration(v, keepalive.timeout, f"{where}.http2KeepAlive.timeout")
    if (tcp := pool.tcp) is not None:
        where = f"{path}.tcp"
        if tcp.max_connections < 0:
            v.error("max connections must be non-negative", where)
        check_duration(v, tcp.connect_timeout, f"{where}.connectTimeout")
        check_duration(v, tcp.max_connection_duration, f"{where}.maxConnectionDuration")
        if tcp.idle_timeout and fields.parse_duration(tcp.idle_timeout) != 0:
            check_duration(v, tcp.idle_timeout, f"{where}.idleTimeout")
        if tcp.tcp_keepalive is not None:
            check_duration(v, tcp.tcp_keepalive.time, f"{where}.tcpKeepalive.time")
            check_duration(v, tcp.tcp_keepalive.interval, f"{where}.tcpKeepalive.interval")


def _check_outlier(v: Verdict, outlier: OutlierDetection, path: str) -> None:
    if outlier.consecutive_local_origin_failures and not outlier.split_external_local_origin_errors:
        v.error(
            "outlier detection consecutive local origin failures is specified, but split external "
            "local origin errors is set to false",
            path,
        )
    for value in (outlier.max_ejection_percent, outlier.min_health_percent):
        if not 0 <= value <= 100:
            v.error(f"percentage {value} is not in range 0..100", path)
    check_duration(v, outlier.interval, f"{path}.interval")
    check_duration(v, outlier.base_ejection_time, f"{path}.baseEjectionTime")
    if outlier.consecutive_errors:
        v.warn(
            "outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors "
            "or consecutive5xxErrors instead",
            path,
        )


def _is_prime(number: int) -> bool:
    return number > 1 and all(number % d for d in range(2, int(number**0.5) + 1))


def _check_load_balancer(v: Verdict, balancer: LoadBalancerSettings, path: str) -> None:
    if (hashing := balancer.consistent_hash) is not None:
        where = f"{path}.consistentHash"
        if (cookie := hashing.http_cookie) is not None:
            if not cookie.name:
                v.error("name required for HttpCookie", f"{where}.httpCookie")
            names: set[str] = set()
            for attribute in cookie.attributes:
                if not attribute.name:
                    v.error("cookie attribute name cannot be empty", f"{where}.httpCookie")
                elif attribute.name in names:
                    v.error(f"duplicate cookie attribute name: {attribute.name}", where)
                names.add(attribute.name)
        if hashing.minimum_ring_size:
            v.warn(
                "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash "
                "configuration instead",
                where,
            )
            if hashing.ring_hash is not None or hashing.maglev is not None:
                v.error("only one of MinimumRingSize or Maglev/Ringhash can be specified", where)
        if (maglev := hashing.maglev) is not None:
            if not maglev.table_size:
                v.error("tableSize must be set for maglev", f"{where}.maglev")
            elif maglev.table_size >= _MAGLEV_MAX:
                v.error(f"tableSize must be less than {_MAGLEV_MAX} for maglev", f"{where}.maglev")
            elif not _is_prime(maglev.table_size):
                v.error("tableSize must be a prime number for maglev", f"{where}.maglev")
    if (warmup := balancer.warmup) is not None:
        check_duration(v, warmup.duration, f"{path}.warmup.duration")
        if warmup.minimum_percent is not None and not 0 <= warmup.minimum_percent <= 100:
            v.error("minimumPercent value should be less than or equal to 100", f"{path}.warmup")
        if warmup.aggression is not None and warmup.aggression <= 0:
            v.error("aggression should be greater than 0", f"{path}.warmup")
    check_duration(v, balancer.warmup_duration_secs, f"{path}.warmupDurationSecs")
    if balancer.locality_lb_setting is not None:
        _check_locality(v, balancer.locality_lb_setting, f"{path}.localityLbSetting")
        if balancer.zone_aware_lb_setting is not None:
            v.error("only one of localityLbSetting and zoneAwareLbSetting can be set", path)
    if balancer.zone_aware_lb_setting is not None:
        # Istio checks the zone-aware failover list with the locality rules.
        _check_failover(v, balancer.zone_aware_lb_setting.failover, f"{path}.zoneAwareLbSetting")


_TOPOLOGY_LABELS = (
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "topology.istio.io/subzone",
)


def _check_locality(v: Verdict, setting: LocalityLoadBalancerSetting, path: str) -> None:
    """Istio's ValidateLocalityLbSetting, in its order; it stops at the first error of the
    failover labels and of the weights."""
    if setting.distribute and setting.failover:
        v.error("can not simultaneously specify 'distribute' and 'failover'", path)
        return
    if setting.failover:
        for label in setting.failover_priority:
            if label in _TOPOLOGY_LABELS:
                v.error(
                    f"can not simultaneously set 'failover' and topology label '{label}' in "
                    "'failover_priority'",
                    path,
                )
                return
    where = f"{path}.distribute"
    for rule in setting.distribute:
        if any(not 1 <= weight <= 100 for weight in rule.to.values()):
            v.error("locality weight must be in range [1, 100]", where)
            return
        if (total := sum(rule.to.values())) != 100:
            v.error(f"total locality weight {total} != 100", where)
            return
        if problem := _localities_error(rule.to):
            v.error(problem, where)
    if problem := _localities_error([rule.from_ for rule in setting.distribute]):
        v.error(problem, where)
    _check_failover(v, setting.failover, path)


def _localities_error(localities: Iterable[str]) -> str | None:
    """Istio's validateLocalities: a wildcard only once and last, no empty part, and no
    locality that one before it already covers (region1/* covers region1/zone1)."""
    covered: dict[str, dict[str, set[str]]] = {}  # region -> zone -> subzones; "*" covers all
    for locality in localities:
        overlap = f"locality {locality} overlap with previous specified ones"
        stars = locality.count("*")
        if stars > 1 or (stars and not locality.endswith("*")):
            return (
                f"locality {locality} wildcard '*' number can not exceed 1 and must be in the end"
            )
        if "*" in covered:
            return overlap
        parts = locality.split("/", 2)
        if "" in parts:
            return f"locality {locality} must not contain empty region/zone/subzone info"
        region, zone, subzone = (*parts, "*", "*")[:3]
        zones = covered.get(region)
        if zones is None:
            covered[region] = {zone: {subzone}}
        elif len(parts) == 1 or "*" in zones:
            return overlap
        elif zone not in zones:
            zones[zone] = {subzone}
        elif len(parts) == 2 or "*" in zones[zone] or subzone in zones[zone]:
            return overlap
        else:
            zones[zone].add(subzone)
    return None


def _check_failover(v: Verdict, failovers: list[Failover], path: str) -> None:
    for failover in failovers:
        where = f"{path}.failover"
        if failover.from_ == failover.to:
            v.error("locality lb failover settings must specify different regions", where)
        if "/" in failover.from_ or "/" in failover.to:
            v.error("locality lb failover only specify region", where)
        if "*" in failover.from_ or "*" in failover.to:
            v.error("locality lb failover region should not contain '*' wildcard", where)


def _check_client_tls(v: Verdict, tls: ClientTLSSettings, path: str, namespace: str) -> None:
    if problem := _configmap_credential_error(tls.credential_name, namespace):
        v.error(f"invalid configmap:// credentialName: {problem}", f"{path}.credentialName")
    # By mode, as Istio: in MUTUAL, credentialName may hold only the client certificate.
    verified = tls.ca_certificates or tls.subject_alt_names
    if tls.insecure_skip_verify and tls.mode == "SIMPLE" and (verified or tls.credential_name):
        v.error(
            "cannot specify CaCertificates or CredentialName or SubjectAltNames when "
            "InsecureSkipVerify is set true",
            path,
        )
    elif tls.insecure_skip_verify and tls.mode == "MUTUAL" and verified:
        v.error(
            "cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true",
            path,
        )
    if tls.mode not in ("SIMPLE", "MUTUAL"):
        return
    if tls.credential_name:
        if tls.client_certificate or tls.private_key or tls.ca_certificates or tls.ca_crl:
            v.error(
                "cannot specify client certificates or CA certificate or CA CRL If "
                "credentialName is set",
                path,
            )
        return
    if tls.mode == "MUTUAL":
        if not tls.client_certificate:
            v.error("client certificate required for mutual tls", path)
        if not tls.private_key:
            v.error("private key required for mutual tls", path)


def _configmap_credential_error(name: str, namespace: str) -> str | None:
    """`configmap://<namespace>/<name>`, read by istiod from the rule's own namespace only."""
    if not name.startswith(CONFIGMAP_PREFIX):
        return None
    parts = name.removeprefix(CONFIGMAP_PREFIX).split("/")
    quoted = fields.go_quote(name)
    if len(parts) < 2:
        return f"invalid resource name {quoted}. Expected namespace and name"
    if not parts[0]:
        return f"invalid resource name {quoted}. Expected namespace"
    if not parts[1]:
        return f"invalid resource name {quoted}. Expected name"
    if parts[0] != namespace or not namespace:
        return f"namespace must match the configuration namespace {fields.go_quote(namespace)}"
    return None
