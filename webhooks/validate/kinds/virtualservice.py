"""VirtualService: hosts, gateways, delegation, and the TLS and TCP routes."""

from webhooks.validate import fields
from webhooks.validate.kinds import httproute, unreachable
from webhooks.validate.kinds.common import (
    check_destination,
    check_export_to,
    check_gateway_names,
    check_port,
    check_sources,
    host_covers,
    hosts_overlap,
    present,
)
from webhooks.validate.kinds.meta import Meta
from webhooks.validate.models.virtualservice import (
    L4MatchAttributes,
    RouteDestination,
    TCPRoute,
    TLSRoute,
    VirtualService,
)
from webhooks.validate.verdict import Verdict

MESH = "mesh"
# istiod's VirtualServices converted from Gateway API routes; their gateway names are istiod's.
ROUTE_SEMANTICS = "internal.istio.io/route-semantics"


def validate(spec: VirtualService, meta: Meta) -> Verdict:
    v = Verdict()
    delegate = not spec.hosts
    if delegate:
        _check_delegate(v, spec)
    bound_to_mesh = not spec.gateways or MESH in spec.gateways
    sni = any(match.sni_hosts for tls in spec.tls for match in tls.match)
    _check_hosts(v, spec.hosts, bound_to_mesh, sni)
    if spec.export_to:
        check_export_to(v, spec.export_to, meta.namespace)
    if spec.gateways:
        semantics = meta.annotations.get(ROUTE_SEMANTICS) == "gateway"
        check_gateway_names(v, spec.gateways, "spec.gateways", semantics)
    if not (spec.http or spec.tls or spec.tcp):
        v.error("http, tcp or tls must be provided in virtual service")
    # Istio allows JWT claim routing only when the VirtualService's own gateways leave out the
    # mesh (a match's gateways do not count).
    claims_refused = spec.gateways if bound_to_mesh else None
    for index, route in enumerate(spec.http):
        path = f"spec.http[{index}]"
        httproute.check_route(v, route, path, delegate, claims_refused)
    for index, tls in enumerate(spec.tls):
        _check_tls_route(v, tls, spec.hosts, MESH not in spec.gateways, f"spec.tls[{index}]")
    for index, tcp in enumerate(spec.tcp):
        _check_tcp_route(v, tcp, f"spec.tcp[{index}]")
    unreachable.check_http(v, spec.http)
    if spec.tcp:
        unreachable.check_l4(v, [tcp.match for tcp in spec.tcp])
    if spec.tls:
        unreachable.check_l4(v, [tls.match for tls in spec.tls])
    return v


def _check_delegate(v: Verdict, spec: VirtualService) -> None:
    if spec.gateways:
        v.error("delegate virtual service must have no gateways specified", "spec.gateways")
    if spec.tls:
        v.error("delegate virtual service must have no tls route specified", "spec.tls")
    if spec.tcp:
        v.error("delegate virtual service must have no tcp route specified", "spec.tcp")


def _check_hosts(v: Verdict, hosts: list[str], bound_to_mesh: bool, sni: bool) -> None:
    """Istio's order: each host, with the gateway-bound parser off the mesh (where Envoy's
    outbound_ SNI names pass), then duplicates, only once every host is valid."""
    valid = True
    for index, host in enumerate(hosts):
        path = f"spec.hosts[{index}]"
        problem = fields.gateway_bound_domain_error(host, sni and not bound_to_mesh)
        if problem and not fields.is_ip(host):
            v.error(problem, path)
            valid = False
        elif not problem and host == "*" and bound_to_mesh:
            v.error(
                "wildcard host * is not allowed for virtual services bound to the mesh gateway",
                path,
            )
            valid = False
    if not valid:
        return
    for index, host in enumerate(hosts):
        for other in hosts[index + 1 :]:
            if hosts_overlap(host, other):
                v.error(f"duplicate hosts in virtual service: {host} & {other}", "spec.hosts")


def _check_route_destinations(
    v: Verdict, destinations: list[RouteDestination], path: str, missing: str
) -> None:
    if not destinations:
        v.error(missing, path)
    for index, destination in enumerate(destinations):
        where = f"{path}.route[{index}]"
        check_destination(v, destination.destination, f"{where}.destination")
        if destination.weight < 0:
            v.error(f"weight {destination.weight} < 0", f"{where}.weight")
    if len(destinations) > 1 and all(d.weight == 0 for d in destinations):
        v.error("total destination weight = 0", f"{path}.route")


def _check_tls_route(
    v: Verdict, tls: TLSRoute, hosts: list[str], gateway_bound: bool, path: str
) -> None:
    if not tls.match:
        v.error("TLS route must have at least one match condition", path)
    for index, match in enumerate(tls.match):
        where = f"{path}.match[{index}]"
        if not match.sni_hosts:
            v.error("TLS match must have at least one SNI host", where)
        for sni in match.sni_hosts:
            _check_sni(v, sni, hosts, gateway_bound, f"{where}.sniHosts")
        _check_l4(v, match.destination_subnets, match.port, where)
        check_sources(v, match.source_labels, match.gateways, where)
    _check_route_destinations(v, tls.route, path, "TLS route is required")


def _check_sni(v: Verdict, sni: str, hosts: list[str], gateway_bound: bool, path: str) -> None:
    """Istio's validateSniHost. Its "bound to a gateway" is "no mesh among the gateways", so a
    VirtualService with no gateways at all reads Envoy's outbound_ names too."""
    problem = fields.gateway_bound_domain_error(sni, sni=gateway_bound)
    if problem and fields.is_ip(sni):
        v.warn(
            f"using an IP address ({fields.go_quote(sni)}) goes against SNI spec and most "
            "clients do not support this",
            path,
        )
        return
    if problem:
        v.error(problem, path)
        return
    if hosts and not any(host_covers(host, sni) for host in hosts):
        v.error(
            f"SNI host {fields.go_quote(sni)} is not a compatible subset of any of the virtual "
            f"service hosts: [{', '.join(hosts)}]",
            path,
        )


def _check_l4(v: Verdict, subnets: list[str], port: int, path: str) -> None:
    for subnet in subnets:
        if not (fields.is_ip(subnet) or fields.is_cidr(subnet)):
            v.error(f"{subnet} is not a valid CIDR block", f"{path}.destinationSubnets")
    if port:
        check_port(v, port, f"{path}.port")


def _check_tcp_route(v: Verdict, tcp: TCPRoute, path: str) -> None:
    for where, match in present(v, tcp.match, f"{path}.match", "tcp match may not be nil"):
        _check_tcp_match(v, match, where)
    _check_route_destinations(v, tcp.route, path, "TCP route is required")


def _check_tcp_match(v: Verdict, match: L4MatchAttributes, path: str) -> None:
    _check_l4(v, match.destination_subnets, match.port, path)
    subnet = match.source_subnet
    if subnet and not (fields.is_ip(subnet) or fields.is_cidr(subnet)):
        v.error(f"{subnet} is not a valid CIDR block", f"{path}.sourceSubnet")
    check_sources(v, match.source_labels, match.gateways, path)
