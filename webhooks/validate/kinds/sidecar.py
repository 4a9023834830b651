"""Sidecar: ingress and egress listeners, outbound traffic policy, connection pools."""

from collections.abc import Iterator

from webhooks.validate import fields
from webhooks.validate.kinds import gateway
from webhooks.validate.kinds.common import (
    check_destination,
    check_port,
    check_workload_selector,
    present,
)
from webhooks.validate.kinds.meta import Meta
from webhooks.validate.kinds.trafficpolicy import check_connection_pool
from webhooks.validate.models.sidecar import (
    IstioEgressListener,
    IstioIngressListener,
    Sidecar,
    SidecarPort,
)
from webhooks.validate.verdict import Verdict

_ENDPOINT_HOSTS = frozenset({"", "127.0.0.1", "0.0.0.0", "::1", "::"})
_HTTP = frozenset({"HTTP", "HTTP2", "GRPC", "GRPC-WEB", "HTTP_PROXY"})
_DUPLICATE_PORT = "sidecar: ports on IP bound listeners must be unique"
_SELECTOR_WARNING = (
    "sidecar: workload selector specified without labels, will be applied to all services in "
    "namespace"
)


def validate(spec: Sidecar, meta: Meta) -> Verdict:
    v = Verdict()
    if not (
        spec.egress or spec.ingress or spec.outbound_traffic_policy or spec.inbound_connection_pool
    ):
        v.error("sidecar: empty configuration provided")
        return v
    check_workload_selector(v, spec.workload_selector, "spec.workloadSelector", _SELECTOR_WARNING)
    # Istio compares ingress port numbers whatever the bind: every ingress listener is IP bound.
    ingress_ports: set[int] = set()
    null_error = "sidecar: ingress may not be null"
    for path, listener in present(v, spec.ingress, "spec.ingress", null_error):
        _check_ingress(v, listener, path, ingress_ports)
    _check_egress(v, spec.egress)
    if (policy := spec.outbound_traffic_policy) is not None:
        path = "spec.outboundTrafficPolicy"
        if policy.mode == "ALLOW_ANY_DYNAMIC_DNS":
            v.error(
                "sidecar: ALLOW_ANY_DYNAMIC_DNS mode is only supported in MeshConfig, not in "
                "Sidecar resource",
                path,
            )
        if policy.egress_proxy is not None:
            if policy.mode != "ALLOW_ANY":
                v.error(
                    "sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy "
                    "mode",
                    path,
                )
            if policy.egress_proxy.port is None:
                v.error("sidecar: egress_proxy port must be non-nil", f"{path}.egressProxy")
            check_destination(v, policy.egress_proxy, f"{path}.egressProxy")
    if spec.inbound_connection_pool is not None:
        check_connection_pool(v, spec.inbound_connection_pool, "spec.inboundConnectionPool")
    return v


def _check_ingress(v: Verdict, listener: IstioIngressListener, path: str, ports: set[int]) -> None:
    port = listener.port
    if port is None:
        v.error("sidecar: port is required for ingress listeners", path)
        return
    protocol = _check_port(v, port, f"{path}.port")
    check_port(v, port.number, f"{path}.port.number")
    if listener.bind and not fields.is_ip(listener.bind):
        v.error(f"{listener.bind} is not a valid IP", f"{path}.bind")
    if port.number in ports:
        v.error(_DUPLICATE_PORT, path)
    ports.add(port.number)
    _check_default_endpoint(v, listener.default_endpoint, f"{path}.defaultEndpoint")
    if listener.tls is not None:
        _check_ingress_tls(v, listener, protocol, f"{path}.tls")
    if listener.connection_pool is not None:
        check_connection_pool(v, listener.connection_pool, f"{path}.connectionPool")
        if listener.connection_pool.http is not None and protocol not in _HTTP:
            v.warn(
                f"sidecar: HTTP connection pool settings are configured for port {port.number} "
                f"({fields.go_quote(port.name)}) but its protocol is not HTTP ({protocol}); only "
                "TCP settings will apply",
                path,
            )


def _check_port(v: Verdict, port: SidecarPort, path: str) -> str:
    """The checks Istio makes of every Sidecar port; returns the protocol's canonical name."""
    if port.target_port:
        v.error("targetPort has no impact on Sidecars", f"{path}.targetPort")
    if port.name and not fields.is_dns1123_label(port.name):
        v.error(f"invalid port name: {port.name}", f"{path}.name")
    protocol = gateway.PROTOCOLS.get(port.protocol.lower(), "")
    if port.protocol and not protocol:
        v.error(f"unsupported protocol: {port.protocol}", f"{path}.protocol")
    return protocol


def _check_default_endpoint(v: Verdict, endpoint: str, path: str) -> None:
    """Istio splits the endpoint with Go's net.SplitHostPort: `:8080` is 0.0.0.0:8080."""
    if not endpoint:
        return
    if endpoint.startswith("unix://"):
        if problem := fields.unix_address_error(endpoint.removeprefix("unix://")):
            v.error(problem, path)
        return
    host, port, problem = fields.split_host_port(endpoint)
    if problem:
        v.error(problem, path)
    if host not in _ENDPOINT_HOSTS:
        v.error(
            "sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,"
            "[::]:port,unix://filepath or unset",
            path,
        )
    number = fields.go_atoi(port)  # not int(): Python refuses more than 4,300 digits
    if number is None:
        problem = fields.go_atoi_error(port)
        v.error(f"sidecar: defaultEndpoint port ({port}) is not a number: {problem}", path)
    elif problem := fields.port_error(number):
        v.error(problem, path)


def _check_ingress_tls(
    v: Verdict, listener: IstioIngressListener, protocol: str, path: str
) -> None:
    tls = listener.tls
    assert tls is not None
    for value, message in (
        (tls.subject_alt_names, "sidecar: subjectAltNames is not supported in ingress tls"),
        (tls.https_redirect, "sidecar: httpsRedirect is not supported"),
        (tls.credential_name, "sidecar: credentialName is not currently supported"),
        (tls.credential_names, "sidecar: credentialNames is not currently supported"),
        (tls.tls_certificates, "sidecar: tls_certificates is not currently supported"),
    ):
        if value:
            v.error(message, path)
    if tls.mode in ("ISTIO_MUTUAL", "AUTO_PASSTHROUGH"):
        v.error(
            f"configuration is invalid: cannot set mode to {tls.mode} in sidecar ingress tls", path
        )
    if protocol not in gateway.TLS_PROTOCOLS:
        v.error("server cannot have TLS settings for non HTTPS/TLS ports", path)
    gateway.check_tls_options(v, tls, path)


def _check_egress(v: Verdict, listeners: list[IstioEgressListener | None]) -> None:
    """Istio's loop: a portless (catch-all) listener must be the last, so every earlier one is
    faulted (Istio's "only one listener with empty port" cannot occur); port 0 means a unix
    domain socket, unique by its path; any other port is IP bound, unique by its number (Istio
    compares the numbers only, not the bind addresses)."""
    sockets: set[str] = set()
    ports: set[int] = set()
    last = f"spec.egress[{len(listeners) - 1}]"
    for path, listener in present(v, listeners, "spec.egress", "egress listener may not be null"):
        if listener.port is None:
            if path != last:
                v.error(
                    "sidecar: the egress listener with empty port should be the last listener "
                    "in the list",
                    path,
                )
        else:
            _check_egress_port(v, listener, listener.port, path)
            if listener.port.number == 0:
                if listener.bind in sockets:
                    v.error("sidecar: unix domain socket values for listeners must be unique", path)
                sockets.add(listener.bind)
            else:
                if listener.port.number in ports:
                    v.error(_DUPLICATE_PORT, path)
                ports.add(listener.port.number)
        _check_egress_hosts(v, listener.hosts, path)


def _check_egress_port(
    v: Verdict, listener: IstioEgressListener, port: SidecarPort, path: str
) -> None:
    _check_port(v, port, f"{path}.port")
    if port.number != 0:
        check_port(v, port.number, f"{path}.port.number")
        if listener.bind and not fields.is_ip(listener.bind):
            v.error(f"{listener.bind} is not a valid IP", f"{path}.bind")
        return
    if not listener.bind.startswith("unix://"):
        v.error("sidecar: ports with 0 value must have a unix domain socket bind address", path)
    elif problem := fields.unix_address_error(listener.bind.removeprefix("unix://")):
        v.error(problem, f"{path}.bind")
    if listener.capture_mode not in (None, "DEFAULT", "NONE"):
        v.error("sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners", path)


def _check_egress_hosts(v: Verdict, hosts: list[str], path: str) -> None:
    if not hosts:
        v.error("sidecar: egress listener must contain at least one host", path)
    seen: set[str] = set()
    for index, host in enumerate(hosts):
        where = f"{path}.hosts[{index}]"
        if host in seen:
            v.warn(f"duplicated egress host: {host}", where)
        seen.add(host)
        namespace, slash, name = host.partition("/")
        if not slash or not namespace or not name or "/" in name:
            v.error("host must be of form namespace/dnsName", where)
            continue
        if namespace not in ("*", ".", "~") and not fields.is_dns1123_label(namespace):
            v.error(f"invalid namespace value {fields.go_quote(namespace)} in sidecar", where)
        for problem in _hostname_errors(name):
            v.error(problem, where)
    if "*/*" in seen and len(seen) > 1:
        v.warn("`*/*` host select all resources, no other hosts can be added", path)


def _hostname_errors(name: str) -> Iterator[str]:
    """Istio's checks of the dnsName of a `namespace/dnsName` egress host, in its order."""
    if name != "*" and "." not in name:
        yield "short names (non FQDN) are not allowed"
    if problem := fields.wildcard_domain_error(name):
        yield problem
    if "*" in name and name != "*" and not name.startswith("*."):
        yield f"partial wildcard {fields.go_quote(name)} not allowed"
