"""PeerAuthentication and RequestAuthentication."""

from urllib.parse import urlsplit

from webhooks import numbers
from webhooks.validate import fields
from webhooks.validate.kinds import jwks
from webhooks.validate.kinds.common import (
    check_duration,
    check_policy_target,
    check_selector_labels,
)
from webhooks.validate.kinds.meta import Meta
from webhooks.validate.models.security import JWTRule, PeerAuthentication, RequestAuthentication
from webhooks.validate.verdict import Verdict


def validate_peer(spec: PeerAuthentication, meta: Meta) -> Verdict:
    v = Verdict()
    selector = spec.selector
    if selector is not None:
        check_selector_labels(v, selector.match_labels, "spec.selector.matchLabels")
        if not selector.match_labels:
            v.warn("workload selector specified without labels", "spec.selector")
    if spec.port_level_mtls is None:
        return v
    path = "spec.portLevelMtls"
    if selector is None or not selector.match_labels:
        v.error("mesh/namespace peer authentication cannot have port level mTLS", path)
    if not spec.port_level_mtls:
        v.error("port level mTLS, if defined, must have at least one element", path)
    for port in spec.port_level_mtls:
        number = numbers.whole_number(port)
        if number is None:
            v.error(f"port {fields.go_quote(port)} is not a number", f"{path}[{port}]")
        elif not 1 <= number <= 65535:
            v.error("port must be in range 1..65535", f"{path}[{port}]")
    return v


def validate_request(spec: RequestAuthentication, meta: Meta) -> Verdict:
    v = Verdict()
    check_policy_target(v, spec.selector, spec.target_ref, spec.target_refs)
    for index, rule in enumerate(spec.jwt_rules):
        _check_jwt_rule(v, rule, f"spec.jwtRules[{index}]")
    return v


def _jwks_uri_error(uri: str) -> str | None:
    """Istio's ParseJwksURI: Go's url.Parse (its port rule; other parse errors are Python's),
    an http or https scheme, then strconv.Atoi of the port."""
    try:
        parts = urlsplit(uri)
    except ValueError as error:
        return f"parse {fields.go_quote(uri)}: {error}"
    # Go's parseHost: what follows the last ':' of the host (after `]` for IPv6) is the port.
    host = parts.netloc.rpartition("@")[2]
    colon = host.find("]") + 1 if host.startswith("[") else host.rfind(":")
    port = host[colon:] if colon >= 0 else ""
    digits = port[1:]
    if port and not (port[0] == ":" and (not digits or numbers.whole_number(digits) is not None)):
        return f"parse {fields.go_quote(uri)}: invalid port {fields.go_quote(port)} after host"
    if parts.scheme not in ("http", "https"):
        return f"URI scheme {fields.go_quote(parts.scheme)} is not supported"
    if digits and (problem := fields.go_atoi_error(digits)):
        return problem
    return None


def _check_jwt_rule(v: Verdict, rule: JWTRule, path: str) -> None:
    if not rule.issuer and not rule.jwks_uri:
        v.error("issuer or jwksUri must be non-empty string", path)
    for audience in rule.audiences:
        if not audience:
            v.error("audience must be non-empty string", f"{path}.audiences")
    if rule.jwks_uri and (problem := _jwks_uri_error(rule.jwks_uri)):
        v.error(problem, f"{path}.jwksUri")
    if rule.jwks:
        _check_jwks(v, rule.jwks, f"{path}.jwks")
    for index, header in enumerate(rule.from_headers):
        if not header.name:
            v.error("location header name must be non-empty string", f"{path}.fromHeaders[{index}]")
    for index, claim in enumerate(rule.output_claim_to_headers):
        where = f"{path}.outputClaimToHeaders[{index}]"
        if claim is None:
            v.error("outputClaimToHeaders must not be null", where)
        elif not claim.header or not claim.claim:
            v.error("outputClaimToHeaders header and claim value must be non-empty string", where)
        elif problem := fields.strict_header_name_error(claim.header):
            v.error(problem, where)
    check_duration(v, rule.timeout, f"{path}.timeout")


def _check_jwks(v: Verdict, text: str, path: str) -> None:
    try:
        private = jwks.private_key_indexes(text)
    except jwks.JWKSError as error:
        v.error(f"jwks parse error: {error}", path)
        return
    for index in private:
        v.warn(
            f"jwks key at index {index} contains private key material; only public keys are "
            "used for verification",
            path,
        )
