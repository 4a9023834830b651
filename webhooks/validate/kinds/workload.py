"""WorkloadEntry and WorkloadGroup (the entry rules are also used for ServiceEntry endpoints)."""

from webhooks.validate import fields
from webhooks.validate.kinds.common import check_port
from webhooks.validate.kinds.meta import Meta
from webhooks.validate.models.workload import ReadinessProbe, WorkloadEntry, WorkloadGroup
from webhooks.validate.verdict import Verdict


def validate_entry(spec: WorkloadEntry, meta: Meta) -> Verdict:
    v = Verdict()
    if not spec.address:
        if spec.network:
            v.warn(f"address is unset with network {fields.go_quote(spec.network)}", "spec.address")
        else:
            v.error("address is required", "spec.address")
    else:
        check_address(v, spec.address, bool(spec.ports), "spec.address")
    check_ports(v, spec.ports, "spec.ports")
    for message in fields.label_errors(spec.labels):
        v.error(message, "spec.labels")
    return v


def check_address(v: Verdict, address: str, has_ports: bool, path: str) -> None:
    if address.startswith("unix://"):
        if problem := fields.unix_address_error(address.removeprefix("unix://")):
            v.error(problem, path)
        if has_ports:
            v.error(f"unix endpoint {address} must not include ports", path)
    elif not fields.is_ip(address) and fields.fqdn_error(address):
        v.error(
            f"endpoint address {fields.go_quote(address)} is not a valid FQDN or an IP address",
            path,
        )


def check_ports(v: Verdict, ports: dict[str, int], path: str) -> None:
    for name, number in ports.items():
        if not fields.is_dns1123_label(name):
            v.error(f"invalid port name: {name}", f"{path}[{name}]")
        check_port(v, number, f"{path}[{name}]")


def validate_group(spec: WorkloadGroup, meta: Meta) -> Verdict:
    v = Verdict()
    if spec.metadata is not None and (problems := fields.label_errors(spec.metadata.labels)):
        v.error(f"invalid labels: {'; '.join(problems)}", "spec.metadata.labels")
    if spec.template.address:
        check_address(v, spec.template.address, bool(spec.template.ports), "spec.template.address")
    check_ports(v, spec.template.ports, "spec.template.ports")
    for message in fields.label_errors(spec.template.labels):
        v.error(message, "spec.template.labels")
    if spec.probe is not None:
        _check_probe(v, spec.probe, "spec.probe")
    return v


def _check_probe(v: Verdict, probe: ReadinessProbe, path: str) -> None:
    for value, what in (
        (probe.period_seconds, "periodSeconds"),
        (probe.initial_delay_seconds, "initialDelaySeconds"),
        (probe.timeout_seconds, "timeoutSeconds"),
        (probe.success_threshold, "successThreshold"),
        (probe.failure_threshold, "failureThreshold"),
    ):
        if value < 0:
            v.error(f"{what} must be non-negative", f"{path}.{what}")
    if (http := probe.http_get) is not None:
        check_port(v, http.port, f"{path}.httpGet.port")
        if http.scheme not in ("", "HTTP", "HTTPS"):
            v.error('httpGet.scheme must be one of "HTTPS", "HTTP"', f"{path}.httpGet.scheme")
        for index, header in enumerate(http.http_headers):
            where = f"{path}.httpGet.httpHeaders[{index}]"
            if header is None:
                v.error("invalid nil header", where)
            elif problem := fields.strict_header_name_error(header.name):
                v.error(problem, where)
    if probe.tcp_socket is not None:
        check_port(v, probe.tcp_socket.port, f"{path}.tcpSocket.port")
    if probe.grpc is not None:
        check_port(v, probe.grpc.port, f"{path}.grpc.port")
    if probe.exec is not None and not probe.exec.command:
        v.error("exec.command is required", f"{path}.exec")
    methods = [probe.http_get, probe.tcp_socket, probe.exec, probe.grpc]
    if sum(method is not None for method in methods) > 1:
        v.error("only one of httpGet, tcpSocket, exec or grpc may be set", path)
