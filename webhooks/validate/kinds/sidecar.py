"""Sidecar: ingress and egress listeners, outbound traffic policy, connection pools."""

import re

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
from webhooks.validate.models.sidecar import IstioEgressListener, IstioIngressListener, Sidecar
from webhooks.validate.verdict import Verdict

_DEFAULT_ENDPOINT = re.compile(r"^(127\.0\.0\.1|0\.0\.0\.0|\[::1\]|\[::\]):(.*)$")
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
    for index, listener in enumerate(spec.ingress):
        if listener is not None:
            _check_ingress(v, listener, f"spec.ingress[{index}]", ingress_ports)
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
    protocol = gateway.PROTOCOLS.get(port.protocol.lower(), "")
    if port.protocol and not protocol:
        v.error(f"invalid protocol {fields.go_quote(port.protocol)}", f"{path}.port.protocol")
    check_port(v, port.number, f"{path}.port.number")
    if port.target_port:
        v.warn("targetPort has no impact on Sidecars", f"{path}.port.targetPort")
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


def _check_default_endpoint(v: Verdict, endpoint: str, path: str) -> None:
    if not endpoint or endpoint.startswith("unix://"):
        return
    match = _DEFAULT_ENDPOINT.match(endpoint)
    if match is None:
        v.error(
            "sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,"
            "[::]:port,unix://filepath or unset",
            path,
        )
    elif not match.group(2).isdigit():
        v.error(
            f"sidecar: defaultEndpoint port ({match.group(2)}) is not a number: strconv.Atoi: "
            f'parsing "{match.group(2)}": invalid syntax',
            path,
        )
    elif problem := fields.port_error(int(match.group(2))):
        v.error(problem, path)


def _check_ingress_tls(
    v: Verdict, listener: IstioIngressListener, protocol: str, path: str
) -> None:
    tls = listener.tls
    assert tls is not None
    if tls.mode in ("ISTIO_MUTUAL", "PASSTHROUGH", "AUTO_PASSTHROUGH", None):
        mode = tls.mode or "PASSTHROUGH"
        v.error(f"configuration is invalid: cannot set mode to {mode} in sidecar ingress tls", path)
    for value, message in (
        (tls.subject_alt_names, "sidecar: subjectAltNames is not supported in ingress tls"),
        (tls.https_redirect, "sidecar: httpsRedirect is not supported"),
        (tls.credential_name, "sidecar: credentialName is not currently supported"),
        (tls.credential_names, "sidecar: credentialNames is not currently supported"),
        (tls.tls_certificates, "sidecar: tls_certificates is not currently supported"),
    ):
        if value:
            v.error(message, path)
    if protocol not in gateway.TLS_PROTOCOLS:
        v.error("server cannot have TLS settings for non HTTPS/TLS ports", path)
    elif tls.mode not in ("ISTIO_MUTUAL", "PASSTHROUGH", "AUTO_PASSTHROUGH", None):
        gateway.check_tls_options(v, tls, path)


def _check_egress(v: Verdict, listeners: list[IstioEgressListener | None]) -> None:
    portless = [i for i, listener in enumerate(listeners) if listener and listener.port is None]
    if len(portless) > 1:
        v.error("sidecar: egress can have only one listener with empty port", "spec.egress")
    elif portless and portless[0] != len(listeners) - 1:
        v.error(
            "sidecar: the egress listener with empty port should be the last listener in the list",
            "spec.egress",
        )
    # Port 0 means a unix domain socket, unique by its path; any other port is IP bound, unique by
    # its number (Istio compares the numbers only, not the bind addresses).
    sockets: set[str] = set()
    ports: set[int] = set()
    null_error = "sidecar: egress listener may not be null"
    for path, listener in present(v, listeners, "spec.egress", null_error):
        _check_egress_hosts(v, listener.hosts, path)
        unix = listener.bind.startswith("unix://")
        if listener.port is not None:
            if listener.port.number == 0 and not unix:
                v.error(
                    "sidecar: ports with 0 value must have a unix domain socket bind address", path
                )
            elif not unix:
                check_port(v, listener.port.number, f"{path}.port.number")
            if listener.port.number == 0:
                if listener.bind in sockets:
                    v.error("sidecar: unix domain socket values for listeners must be unique", path)
                sockets.add(listener.bind)
            else:
                if listener.port.number in ports:
                    v.error(_DUPLICATE_PORT, path)
                ports.add(listener.port.number)
        if unix:
            if listener.capture_mode not in (None, "DEFAULT", "NONE"):
                v.error(
                    "sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners",
                    path,
                )
        elif listener.bind and not fields.is_ip(listener.bind):
            v.error(f"{listener.bind} is not a valid IP", f"{path}.bind")


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
        if namespace not in ("*", ".", "~") and not fields.is_k8s_label(namespace):
            v.error(f"invalid namespace value {fields.go_quote(namespace)} in sidecar", where)
        for problem in _hostname_errors(name):
            v.error(problem, where)
    if "*/*" in seen and len(seen) > 1:
        v.warn("`*/*` host select all resources, no other hosts can be added", path)


def _hostname_errors(name: str) -> list[str]:
    """Istio's checks of the dnsName of a `namespace/dnsName` egress host, in its order."""
    errors = []
    if name != "*" and "." not in name:
        errors.append("short names (non FQDN) are not allowed")
    if problem := fields.wildcard_domain_error(name):
        errors.append(problem)
    if "*" in name and name != "*" and not name.startswith("*."):
        errors.append(f"partial wildcard {fields.go_quote(name)} not allowed")
    return errors
