"""ServiceEntry: hosts, addresses, ports, endpoints, and the rules of each resolution mode."""

from webhooks.validate import fields
from webhooks.validate.kinds import workload
from webhooks.validate.kinds.common import (
    check_export_to,
    check_port,
    check_workload_selector,
    present,
)
from webhooks.validate.kinds.gateway import PROTOCOLS
from webhooks.validate.kinds.meta import Meta
from webhooks.validate.models.workload import ServiceEntry
from webhooks.validate.verdict import Verdict

HTTP_OR_TLS = frozenset({"HTTP", "HTTP2", "GRPC", "GRPC-WEB", "HTTP_PROXY", "HTTPS", "TLS"})
# Istio's protocol.IsTCP: the protocols proxied as TCP streams.
TCP_PROTOCOLS = frozenset({"TCP", "HTTPS", "TLS", "MONGO", "REDIS", "MYSQL"})
# The label that opts a ServiceEntry out of istiod's IP autoallocation (on by default).
AUTOALLOCATE_LABEL = "networking.istio.io/enable-autoallocate-ip"
_SELECTOR_WARNING = (
    "service entry: workload selector specified without labels, will be applied to all services "
    "in namespace"
)


def validate(spec: ServiceEntry, meta: Meta) -> Verdict:
    v = Verdict()
    resolution = spec.resolution or "NONE"
    _check_hosts(v, spec, resolution)
    if spec.workload_selector is not None and spec.endpoints:
        v.error("only one of WorkloadSelector or Endpoints is allowed in Service Entry")
    check_workload_selector(v, spec.workload_selector, "spec.workloadSelector", _SELECTOR_WARNING)
    for index, address in enumerate(spec.addresses):
        path = f"spec.addresses[{index}]"
        if "/" in address:
            if not fields.is_cidr(address):
                v.error(f"{address} is not a valid CIDR block", path)
            elif resolution not in ("NONE", "STATIC"):
                v.error("CIDR addresses are allowed only for NONE/STATIC resolution types", path)
        elif not fields.is_ip(address):
            v.error(f"{address} is not a valid IP", path)
    _check_ports(v, spec)
    _warn_addresses(v, spec, resolution, meta)
    _check_endpoints(v, spec, resolution)
    protocols = {PROTOCOLS.get(port.protocol.lower(), "TCP") for port in spec.ports}
    if resolution != "NONE" and len(spec.hosts) > 1 and protocols - HTTP_OR_TLS:
        v.error("multiple hosts provided with non-HTTP, non-TLS ports", "spec.hosts")
    check_export_to(v, spec.export_to, meta.namespace, service_entry=True)
    return v


def _check_hosts(v: Verdict, spec: ServiceEntry, resolution: str) -> None:
    if not spec.hosts:
        v.error("service entry must have at least one host", "spec.hosts")
    for index, host in enumerate(spec.hosts):
        path = f"spec.hosts[{index}]"
        if host == "*":
            v.error("invalid host *", path)
            continue
        if problem := fields.wildcard_domain_error(host):
            v.error(problem, path)
        if host.startswith("*") and not host.startswith("*.") and resolution != "DYNAMIC_DNS":
            v.warn(f"partial wildcard {fields.go_quote(host)} not allowed", path)
        if resolution == "DYNAMIC_DNS" and not host.startswith("*"):
            v.error("host must be wildcarded for resolution mode DYNAMIC_DNS", path)
        if resolution in ("DNS", "DNS_ROUND_ROBIN") and not spec.endpoints and "*" in host:
            v.error(
                "hosts must be FQDN or contain only prefix wildcards if no endpoints are "
                f"provided for resolution mode {resolution}, {host}",
                path,
            )


def _check_ports(v: Verdict, spec: ServiceEntry) -> None:
    names: set[str] = set()
    numbers: set[int] = set()
    for index, port in enumerate(spec.ports):
        path = f"spec.ports[{index}]"
        if port.name in names:
            v.error(f"service entry port name {fields.go_quote(port.name)} already defined", path)
        if port.number in numbers:
            v.error(f"service entry port {port.number} already defined", path)
        names.add(port.name)
        numbers.add(port.number)
        if not fields.is_dns1123_label(port.name):
            v.error(f"invalid port name: {port.name}", f"{path}.name")
        if port.protocol and port.protocol.lower() not in PROTOCOLS:
            v.error(f"unsupported protocol: {port.protocol}", f"{path}.protocol")
        check_port(v, port.number, f"{path}.number")
        if port.target_port:
            check_port(v, port.target_port, f"{path}.targetPort")


def _warn_addresses(v: Verdict, spec: ServiceEntry, resolution: str, meta: Meta) -> None:
    """Istio's two warnings about TCP ports that a proxy cannot tell apart without an address."""
    if not spec.addresses:
        opted_out = str(meta.labels.get(AUTOALLOCATE_LABEL, "")).lower() == "false"
        if resolution == "NONE" or opted_out:
            # Istio compares the protocol as written: only "" and "TCP" warn.
            for index, port in enumerate(spec.ports):
                if port.protocol in ("", "TCP"):
                    v.warn(
                        "addresses are required for ports serving TCP (or unset) protocol when "
                        "IP Autoallocation is not enabled",
                        f"spec.ports[{index}]",
                    )
        return
    several_hosts = resolution in ("DNS", "DNS_ROUND_ROBIN") and len(spec.hosts) > 1
    protocols = (PROTOCOLS.get(port.protocol.lower()) for port in spec.ports)
    if several_hosts and any(protocol in TCP_PROTOCOLS for protocol in protocols):
        v.warn(
            "service entry can not have more than one host specified simultaneously with "
            "address and tcp port",
            "spec.hosts",
        )


def _check_endpoints(v: Verdict, spec: ServiceEntry, resolution: str) -> None:
    if resolution == "NONE" and spec.endpoints:
        v.error("no endpoints should be provided for resolution type none", "spec.endpoints")
    if resolution == "NONE" and spec.workload_selector is not None:
        v.warn("workloadSelector should not be set when resolution mode is NONE")
    if resolution == "DNS_ROUND_ROBIN" and len(spec.endpoints) > 1:
        v.error("there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN")
    if resolution == "DYNAMIC_DNS":
        _check_dynamic_dns(v, spec)
    port_names = {port.name for port in spec.ports}
    for path, endpoint in present(v, spec.endpoints, "spec.endpoints", "endpoint may not be null"):
        address = endpoint.address
        if not address and not endpoint.network:
            v.error("address is required", f"{path}.address")
        elif resolution == "STATIC" and address and not address.startswith("unix://"):
            if not fields.is_ip(address):
                v.error(
                    f"endpoint address {fields.go_quote(address)} is not a valid IP address",
                    f"{path}.address",
                )
        elif resolution in ("DNS", "DNS_ROUND_ROBIN") and address.startswith("unix://"):
            # Istio checks DNS endpoints as an IP or an FQDN only: a socket is neither.
            v.error(
                f"endpoint address {fields.go_quote(address)} is not a valid FQDN or an IP address",
                f"{path}.address",
            )
        elif address:
            workload.check_address(v, address, bool(endpoint.ports), f"{path}.address")
        if address.startswith("unix://") and len(spec.ports) != 1:
            v.error("exactly 1 service port required for unix endpoints", path)
        for name, number in endpoint.ports.items():
            if name not in port_names:
                # Istio prints the number, though the name is what is missing.
                v.error(f"endpoint port {number} is not defined by the service entry", path)
            check_port(v, number, f"{path}.ports[{name}]")
        for message in fields.label_errors(endpoint.labels):
            v.error(message, f"{path}.labels")


def _check_dynamic_dns(v: Verdict, spec: ServiceEntry) -> None:
    if spec.addresses:
        v.error(
            "addresses cannot be set for resolution type DYNAMIC_DNS. HTTP route domains will "
            "only be generatedfrom the hosts field values",
            "spec.addresses",
        )
    if spec.endpoints:
        v.error("endpoints cannot be set for resolution type DYNAMIC_DNS", "spec.endpoints")
    if any(
        PROTOCOLS.get(p.protocol.lower()) not in ("HTTP", "TLS", "GRPC", "HTTP2")
        for p in spec.ports
    ):
        v.error(
            "only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type "
            "DYNAMIC_DNS",
            "spec.ports",
        )
    if spec.location is None:
        v.error(
            "location must be MESH_EXTERNAL or MESH_INTERNAL for resolution type DYNAMIC_DNS",
            "spec.location",
        )
