"""Gateway: servers, hosts, ports, binds and server TLS (shared with Sidecar ingress)."""

from webhooks.validate import fields
from webhooks.validate.kinds.common import check_port, check_selector_labels, present
from webhooks.validate.kinds.meta import Meta
from webhooks.validate.models.gateway import Gateway, Server, ServerTLSSettings
from webhooks.validate.verdict import Verdict

PROTOCOLS = {
    p.lower(): p
    for p in [
        "TCP",
        "UDP",
        "GRPC",
        "GRPC-WEB",
        "HTTP",
        "HTTP_PROXY",
        "HTTP2",
        "HTTPS",
        "TLS",
        "MONGO",
        "REDIS",
        "MYSQL",
    ]
}
TLS_PROTOCOLS = frozenset({"HTTPS", "TLS"})
_BAD_PROTOCOL = "supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP"
_OLD_TLS = frozenset({"TLSV1_0", "TLSV1_1"})
GATEWAY_SEMANTICS = "internal.istio.io/gateway-semantics"
_NAMESPACES = frozenset({"*", "."})
_CONVERTED_NAMESPACES = frozenset({"*", ".", "~"})


CIPHER_SUITES = frozenset(
    {
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-SHA",
        "ECDHE-RSA-AES128-SHA",
        "ECDHE-ECDSA-AES256-SHA",
        "ECDHE-RSA-AES256-SHA",
        "AES128-GCM-SHA256",
        "AES256-GCM-SHA384",
        "AES128-SHA",
        "AES256-SHA",
        "DES-CBC3-SHA",
    }
)
"""The cipher suites Envoy (BoringSSL, without PSK) accepts in Gateway `cipherSuites`."""


def validate(spec: Gateway, meta: Meta) -> Verdict:
    v = Verdict()
    # Gateways istiod converts from the Kubernetes Gateway API carry this annotation; their names
    # and their `~/host` (no route attached) are not the user's.
    converted = meta.annotations.get(GATEWAY_SEMANTICS) == "gateway"
    if meta.name and not converted and not fields.is_dns1123_label(meta.name):
        v.error(f"invalid gateway name: {fields.go_quote(meta.name)}", "metadata.name")
    if not spec.servers:
        v.error("gateway must have at least one server", "spec.servers")
    check_selector_labels(v, spec.selector, "spec.selector")
    names: set[str] = set()
    for path, server in present(v, spec.servers, "spec.servers", "server may not be nil"):
        check_server(v, server, path, converted)
        name = server.port.name
        if name and name in names:
            v.error(f"port names in servers must be unique: duplicate name {name}", path)
        names.add(name)
    return v


def check_server(v: Verdict, server: Server, path: str, converted: bool) -> None:
    if not server.hosts:
        v.error("server config must contain at least one host", f"{path}.hosts")
    for index, host in enumerate(server.hosts):
        if problem := gateway_host_error(host, converted):
            v.error(problem, f"{path}.hosts[{index}]")
    port = server.port
    protocol = PROTOCOLS.get(port.protocol.lower())
    if protocol is None:
        v.error(
            f"invalid protocol {fields.go_quote(port.protocol)}, {_BAD_PROTOCOL}", f"{path}.port"
        )
    if not server.bind.startswith("unix://"):
        check_port(v, port.number, f"{path}.port.number")
    if port.target_port:
        v.error("targetPort has no impact on Gateways", f"{path}.port.targetPort")
    if not port.name:
        v.error(f"port name must be set: {port.number}", f"{path}.port.name")
    _check_bind(v, server.bind, port.number, f"{path}.bind")
    _check_server_tls(v, server.tls, protocol or "", f"{path}.tls")


def gateway_host_error(host: str, converted: bool) -> str | None:
    """`~` (no namespace) is a namespace only in gateways converted from the Gateway API."""
    namespace, slash, name = host.partition("/")
    if not slash:
        name = host
    if slash and (not namespace or not name):
        return "config namespace and dnsName in host entry cannot be empty"
    allowed = _CONVERTED_NAMESPACES if converted else _NAMESPACES
    if slash and namespace not in allowed and not fields.is_dns1123_label(namespace):
        return f"invalid namespace value {fields.go_quote(namespace)} in gateway"
    if name == "*" or fields.is_ip(name):
        return None
    if name.startswith("*") and not name.startswith("*."):
        return f"partial wildcard {fields.go_quote(name)} not allowed"
    if "." not in name:
        return "short names (non FQDN) are not allowed"
    return fields.wildcard_domain_error(name)


def _check_bind(v: Verdict, bind: str, number: int, path: str) -> None:
    if not bind:
        return
    if bind.startswith("unix://"):
        if number:
            v.error(f"port number must be 0 for unix domain socket: {number}", path)
        if problem := fields.unix_address_error(bind.removeprefix("unix://")):
            v.error(problem, path)
    elif not fields.is_ip(bind):
        v.error(f"{bind} is not a valid IP", path)


def _check_server_tls(v: Verdict, tls: ServerTLSSettings | None, protocol: str, path: str) -> None:
    if protocol in TLS_PROTOCOLS and tls is None:
        v.error("server must have TLS settings for HTTPS/TLS protocols", path)
    if tls is None:
        return
    only_redirect = tls.model_fields_set <= {"https_redirect"}
    if protocol == "HTTP" and not only_redirect:
        v.error("server cannot have TLS settings for plain text HTTP ports", path)
    elif protocol not in TLS_PROTOCOLS and protocol != "HTTP" and protocol:
        v.error("server cannot have TLS settings for non HTTPS/TLS ports", path)
    if tls.https_redirect and protocol != "HTTP":
        v.warn("tls.httpsRedirect should only be used with http servers", path)
    if protocol in TLS_PROTOCOLS:
        check_tls_options(v, tls, path)


def _certificate_sources(tls: ServerTLSSettings) -> int:
    """A certificate with its key is a source; a lone key or certificate is not (Istio's count)."""
    pair = bool(tls.server_certificate and tls.private_key)
    return sum(map(bool, (tls.credential_name, tls.credential_names, pair, tls.tls_certificates)))


def check_tls_options(v: Verdict, tls: ServerTLSSettings, path: str) -> None:
    # Istio's order: the cipher and protocol warnings hold for every mode, ISTIO_MUTUAL stops
    # after its own errors, and only a remote credential in SIMPLE or a MUTUAL mode skips the
    # certificate and CRL checks (PASSTHROUGH does not).
    mode = tls.mode or "PASSTHROUGH"
    _check_ciphers(v, tls, path)
    if mode == "ISTIO_MUTUAL":
        for value, what in (
            (tls.server_certificate, "server certificate"),
            (tls.private_key, "private key"),
            (tls.ca_certificates, "CA bundle"),
            (tls.tls_certificates, "tlsCertificates"),
            (tls.credential_name, "credentialName"),
            (tls.credential_names, "credentialNames"),
        ):
            if value:
                v.error(f"ISTIO_MUTUAL TLS cannot have associated {what}", path)
        return
    if mode in ("PASSTHROUGH", "AUTO_PASSTHROUGH") and _has_certificates(tls):
        v.warn(f"{mode} mode does not use certificates, they will be ignored", path)
    if _certificate_sources(tls) > 1:
        v.error(
            "only one of credential_name, credential_names, server_certificate/private_key, "
            "tls_certificates should be specified",
            path,
        )
    if mode in ("SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL"):
        if tls.credential_name or tls.credential_names:
            return
        _check_certificates(v, tls, mode, path)
    if tls.ca_crl and tls.credential_name:
        v.error(
            "CRL is not supported with credentialName. CRL has to be specified in the credential",
            path,
        )
    if tls.ca_crl and mode == "SIMPLE":
        v.error("CRL is not supported with SIMPLE TLS", path)


def _check_ciphers(v: Verdict, tls: ServerTLSSettings, path: str) -> None:
    if tls.min_protocol_version in _OLD_TLS and not tls.cipher_suites:
        v.warn(
            "TLS version below TLSV1_2 require setting compatible ciphers as by default they "
            "no longer include compatible ciphers.",
            path,
        )
    invalid = sorted({c for c in tls.cipher_suites if not _is_valid_cipher(c)})
    if invalid:
        v.warn(f"ignoring invalid cipher suites: [{' '.join(invalid)}]", path)
    valid = [c for c in tls.cipher_suites if _is_valid_cipher(c)]
    duplicates = sorted({c for c in valid if valid.count(c) > 1})
    if duplicates:
        v.warn(f"ignoring duplicate cipher suites: [{' '.join(duplicates)}]", path)


def _is_valid_cipher(name: str) -> bool:
    """Istio's test: BoringSSL's names; "", "ALL" and expressions (`-x`, `+x`, `!x`) pass."""
    return name in ("", "ALL") or not name[0].isalnum() or name in CIPHER_SUITES


def _has_certificates(tls: ServerTLSSettings) -> bool:
    return any(
        (
            tls.server_certificate,
            tls.private_key,
            tls.ca_certificates,
            tls.ca_crl,
            tls.credential_name,
            tls.credential_names,
            tls.tls_certificates,
        )
    )


def _check_certificates(v: Verdict, tls: ServerTLSSettings, mode: str, path: str) -> None:
    # Istio names OPTIONAL_MUTUAL "MUTUAL TLS" in these texts.
    prefix = "SIMPLE TLS" if mode == "SIMPLE" else "MUTUAL TLS"
    if mode != "SIMPLE" and not tls.ca_certificates:
        v.error(f"{prefix} requires a client CA bundle", path)
    if len(tls.tls_certificates) > 2:
        v.warn(f"{prefix} can support up to 2 server certificates", path)
    pairs = [(c.server_certificate, c.private_key) for c in tls.tls_certificates] or [
        (tls.server_certificate, tls.private_key)
    ]
    for certificate, key in pairs:
        if not certificate:
            v.error(f"{prefix} requires a server certificate", path)
        if not key:
            v.error(f"{prefix} requires a private key", path)
