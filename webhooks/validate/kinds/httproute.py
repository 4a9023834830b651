"""VirtualService HTTP route rules: matches, destinations, redirect, rewrite, retries, fault."""

from functools import lru_cache

from webhooks.validate import fields
from webhooks.validate.kinds import headers
from webhooks.validate.kinds.common import (
    check_destination,
    check_duration,
    check_port,
    check_sources,
    destination_errors,
)
from webhooks.validate.models.virtualservice import (
    CorsPolicy,
    HTTPDirectResponse,
    HTTPFaultInjection,
    HTTPMatchRequest,
    HTTPRedirect,
    HTTPRetry,
    HTTPRewrite,
    HTTPRoute,
    HTTPRouteDestination,
    StringMatch,
)
from webhooks.validate.verdict import Verdict

RETRY_ON = frozenset(
    [
        "5xx",
        "gateway-error",
        "reset",
        "reset-before-request",
        "connect-failure",
        "retriable-4xx",
        "refused-stream",
        "retriable-status-codes",
        "retriable-headers",
        "envoy-ratelimited",
        "http3-post-connect-failure",
        "cancelled",
        "deadline-exceeded",
        "internal",
        "resource-exhausted",
        "unavailable",
    ]
)
# The codes Go's http.StatusText names: Istio accepts a number in retryOn only if it is one of them.
HTTP_STATUS_CODES = frozenset(
    [
        *(100, 101, 102, 103),
        *range(200, 209),
        226,
        *range(300, 306),
        *(307, 308),
        *range(400, 419),
        *(421, 422, 423, 424, 425, 426, 428, 429, 431, 451),
        *range(500, 509),
        *(510, 511),
    ]
)
CORS_METHODS = frozenset(
    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*"]
)
GRPC_STATUSES = frozenset(
    [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ]
)
_DIRECT_RESPONSE_WARN = 100 * 1024
_DIRECT_RESPONSE_MAX = 1024 * 1024
_LARGE_BODY = "large direct_responses may impact control plane performance"


def check_route(
    v: Verdict, route: HTTPRoute, path: str, delegate: bool, claims_refused: list[str] | None
) -> None:
    """One entry of spec.http; `delegate` is true inside a delegate VirtualService, and
    `claims_refused` is its gateways when JWT claim routing is refused, else None.

    This runs for every route of every VirtualService: fields left unset skip their checks
    before any field path is formatted."""
    _check_kind(v, route, path, delegate)
    for index, match in enumerate(route.match):
        if match is None:
            v.error("http match may not be null", f"{path}.match[{index}]")
        else:
            check_match(v, match, f"{path}.match[{index}]", claims_refused)
    if route.route:
        _check_destinations(v, route.route, path)
    if route.redirect is not None:
        _check_redirect(v, route.redirect, f"{path}.redirect")
    if route.rewrite is not None:
        _check_rewrite(v, route.rewrite, f"{path}.rewrite")
    if route.timeout and (problem := fields.duration_error(route.timeout)):
        v.error(problem, f"{path}.timeout")
    if route.retries is not None:
        _check_retries(v, route.retries, f"{path}.retries")
    if route.fault is not None:
        _check_fault(v, route.fault, f"{path}.fault")
    if route.mirror or route.mirrors or route.mirror_percent is not None or route.mirror_percentage:
        _check_mirrors(v, route, path)
    if route.direct_response is not None:
        _check_direct_response(v, route.direct_response, f"{path}.directResponse")
    if route.cors_policy is not None:
        _check_cors(v, route.cors_policy, f"{path}.corsPolicy")
    if route.headers is not None:
        headers.check_headers(v, route.headers, f"{path}.headers")
        rewritten = route.rewrite.authority if route.rewrite is not None else ""
        if problem := headers.authority_conflict(rewritten, route.headers):
            v.error(problem, path)


def _check_kind(v: Verdict, route: HTTPRoute, path: str, delegate: bool) -> None:
    if route.delegate is not None:
        if delegate:
            v.error("delegate HTTP route cannot contain delegate", f"{path}.delegate")
        if route.route:
            v.error(f"root HTTP route {route.name} must not specify route", path)
        if route.redirect is not None:
            v.error(f"root HTTP route {route.name} must not specify redirect", path)
        return
    # As Istio: a redirect is checked against the rest first, then a direct response.
    conflicts: tuple[tuple[bool, str], ...] = ()
    if route.redirect is not None:
        conflicts = (
            (bool(route.route), "HTTP route cannot contain both route and redirect"),
            (route.fault is not None, "HTTP route cannot contain both fault and redirect"),
            (route.rewrite is not None, "HTTP route rule cannot contain both rewrite and redirect"),
            (
                route.direct_response is not None,
                "HTTP route rule cannot contain both direct_response and redirect",
            ),
        )
    elif route.direct_response is not None:
        conflicts = (
            (bool(route.route), "HTTP route cannot contain both route and direct_response"),
            (route.fault is not None, "HTTP route cannot contain both fault and direct_response"),
            (
                route.rewrite is not None,
                "HTTP route rule cannot contain both rewrite and direct_response",
            ),
        )
    elif not route.route:
        v.error("HTTP route, redirect or direct_response is required", path)
    for conflicting, message in conflicts:
        if conflicting:
            v.error(message, path)
    if route.mirror and route.mirrors:
        v.error("HTTP route cannot contain both mirror and mirrors", path)


def check_string_match(v: Verdict, match: StringMatch, what: str, path: str) -> None:
    exact, prefix, regex = match.exact, match.prefix, match.regex
    if (exact is not None) + (prefix is not None) + (regex is not None) > 1:
        v.error(f'"{what}": only one of exact, prefix or regex may be set', path)
    if prefix == "" and what != "uri":
        v.error(f'"{what}": prefix string match should not be empty', path)
    if regex is not None:
        if regex == "":
            v.error(f'"{what}": regex string match should not be empty', path)
        elif problem := fields.regex_error(what, regex):
            v.error(problem, path)


def check_match(
    v: Verdict, match: HTTPMatchRequest, path: str, claims_refused: list[str] | None
) -> None:
    if match.uri is not None:
        check_string_match(v, match.uri, "uri", f"{path}.uri")
    if match.scheme is not None:
        check_string_match(v, match.scheme, "scheme", f"{path}.scheme")
    if match.method is not None:
        check_string_match(v, match.method, "method", f"{path}.method")
    if match.authority is not None:
        check_string_match(v, match.authority, "authority", f"{path}.authority")
    if match.headers:
        _check_header_matches(v, match.headers, "headers", path, claims_refused)
    if match.without_headers:
        _check_header_matches(v, match.without_headers, "withoutHeaders", path, claims_refused)
    for name, param in match.query_params.items():
        if param is not None:
            check_string_match(v, param, "queryParams", f"{path}.queryParams[{name}]")
    if match.port:
        check_port(v, match.port, f"{path}.port")
    check_sources(v, match.source_labels, match.gateways, path)
    if match.source_namespace and not fields.is_dns1123_label(match.source_namespace):
        v.error(f"sourceNamespace match {match.source_namespace} is invalid", path)


def _check_header_matches(
    v: Verdict,
    table: dict[str, StringMatch | None],
    what: str,
    path: str,
    claims_refused: list[str] | None,
) -> None:
    for name, header in table.items():
        where = f"{path}.{what}[{name}]"
        if problem := fields.header_name_error(name):
            v.error(problem, where)
        if header is None:
            v.error(f"header match {name} cannot be null", where)
        elif not (what == "withoutHeaders" and header.regex == "*"):
            check_string_match(v, header, what, where)
        if claims_refused is not None and fields.is_routing_claim(name):
            v.error(
                f"JWT claim based routing (key: {name}) is only supported for gateway, "
                f"found no gateways: [{' '.join(claims_refused)}]",  # Go's %v of a list
                where,
            )


def _check_destinations(v: Verdict, destinations: list[HTTPRouteDestination], path: str) -> None:
    weighted = False
    for index, routed in enumerate(destinations):
        for message, field in destination_errors(routed.destination):
            v.error(message, f"{path}.route[{index}].destination{field}")
        if routed.weight:
            weighted = True
            if routed.weight < 0:
                v.error(f"weight {routed.weight} < 0", f"{path}.route[{index}].weight")
        if routed.headers is not None:
            headers.check_headers(v, routed.headers, f"{path}.route[{index}].headers")
    if len(destinations) > 1 and not weighted:
        v.error("total destination weight = 0", f"{path}.route")


def _check_redirect(v: Verdict, redirect: HTTPRedirect, path: str) -> None:
    targets = (
        redirect.uri,
        redirect.authority,
        redirect.scheme,
        redirect.port,
        redirect.derive_port,
    )
    # Istio's validateHTTPRedirect stops at its first error.
    code = redirect.redirect_code
    if not any(targets):
        v.error("redirect must specify URI, authority, scheme, or port", path)
    elif code and not 300 <= code <= 399:
        v.error(f"{code} is not a valid redirect code, must be 3xx", f"{path}.redirectCode")
    elif redirect.scheme not in ("", "http", "https"):
        v.error('invalid redirect scheme, must be "http" or "https"', f"{path}.scheme")
    elif redirect.port and (problem := fields.port_error(redirect.port)):
        v.error(problem, f"{path}.port")


def _check_rewrite(v: Verdict, rewrite: HTTPRewrite, path: str) -> None:
    regex = rewrite.uri_regex_rewrite
    if rewrite.uri and regex is not None:
        v.error("rewrite may only contain one of URI or UriRegexRewrite", path)
        return
    if not rewrite.uri and regex is None and not rewrite.authority:
        v.error(
            "rewrite must specify at least one of URI, UriRegexRewrite, or authority. "
            "Only one of URI or UriRegexRewrite may be specified",
            path,
        )
        return
    if regex is not None:
        where = f"{path}.uriRegexRewrite"
        if not regex.match or not regex.rewrite:
            v.error(
                "UriRegexRewrite has errors: UriRegexRewrite requires both Rewrite and Match "
                "fields to be specified",
                where,
            )
        if regex.match:
            problem = fields.regex_error("HTTPRewrite.UriRegexRewrite.Match", regex.match)
            if problem:
                v.error(problem, f"{where}.match")


def _check_retries(v: Verdict, retries: HTTPRetry, path: str) -> None:
    if retries.attempts < 0:
        v.error("attempts cannot be negative", f"{path}.attempts")
    configured = retries.per_try_timeout or retries.retry_on
    if retries.attempts == 0 and (configured or retries.retry_remote_localities is not None):
        v.error("http retry policy configured when attempts are set to 0 (disabled)", path)
    if retries.per_try_timeout and (problem := fields.duration_error(retries.per_try_timeout)):
        v.error(problem, f"{path}.perTryTimeout")
    if retries.backoff and (problem := fields.duration_error(retries.backoff)):
        v.error(problem, f"{path}.backoff")
    if retries.retry_on:
        for problem in _retry_on_errors(retries.retry_on):
            v.error(problem, f"{path}.retryOn")


@lru_cache(maxsize=1024)
def _retry_on_errors(retry_on: str) -> tuple[str, ...]:
    """Few distinct retryOn lists exist in a mesh; each is checked once. Istio splits on commas
    without trimming, so "5xx, reset" has the invalid policy " reset"."""
    return tuple(
        f"{fields.go_quote(policy)} is not a valid retryOn policy"
        for policy in retry_on.split(",")
        if policy not in RETRY_ON and not _is_http_status(policy)
    )


def _is_http_status(policy: str) -> bool:
    """Istio's test: Go's strconv.Atoi parses it and http.StatusText knows the code."""
    return fields.go_atoi(policy) in HTTP_STATUS_CODES


def _check_fault(v: Verdict, fault: HTTPFaultInjection, path: str) -> None:
    if fault.abort is None and fault.delay is None:
        v.error("HTTP fault injection must have an abort and/or a delay", path)
    if (abort := fault.abort) is not None:
        where = f"{path}.abort"
        if abort.percentage is not None and (bad := fields.percent_error(abort.percentage.value)):
            v.error(bad, f"{where}.percentage")
        if abort.http_status and not 200 <= abort.http_status <= 600:
            v.error(f"HTTP status {abort.http_status} is not in range 200-599", where)
        if abort.grpc_status and abort.grpc_status not in GRPC_STATUSES:
            v.error(
                f"gRPC status {fields.go_quote(abort.grpc_status)} is not supported. See "
                "https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of "
                "supported codes, for example 'NOT_FOUND'",
                where,
            )
        if abort.http2_error:
            v.error("HTTP/2 abort fault injection not supported yet", where)
        if not (abort.http_status or abort.grpc_status or abort.http2_error):
            v.warn("abort configured, but error type not set", where)
    if (delay := fault.delay) is not None:
        where = f"{path}.delay"
        if delay.percentage is not None and (bad := fields.percent_error(delay.percentage.value)):
            v.error(bad, f"{where}.percentage")
        if delay.percent and (bad := fields.percent_error(delay.percent)):
            v.error(bad, f"{where}.percent")
        if delay.exponential_delay:
            v.error("exponentialDelay not supported yet", where)
        check_duration(v, delay.fixed_delay, f"{where}.fixedDelay")


def _check_mirrors(v: Verdict, route: HTTPRoute, path: str) -> None:
    if route.mirror is not None:
        check_destination(v, route.mirror, f"{path}.mirror")
    if route.mirror_percent is not None:
        v.warn('using deprecated setting "mirrorPercent", use "mirrorPercentage" instead', path)
        if route.mirror_percent > 100:
            v.error(
                f"mirror_percent must have a max value of 100 (it has {route.mirror_percent})",
                f"{path}.mirrorPercent",
            )
    if route.mirror_percentage is not None:
        _check_mirror_value(v, "mirror_percentage", route.mirror_percentage.value, path)
    for index, mirror in enumerate(route.mirrors):
        where = f"{path}.mirrors[{index}]"
        check_destination(v, mirror.destination, f"{where}.destination")
        if mirror.percentage is not None:
            _check_mirror_value(v, "mirror percentage", mirror.percentage.value, where)


def _check_mirror_value(v: Verdict, what: str, value: float, path: str) -> None:
    if value > 100:
        v.error(f"{what} must have a max value of 100 (it has {value:f})", path)
    if value < 0:
        v.error(f"{what} must have a min value of 0 (it has {value:f})", path)


def _check_direct_response(v: Verdict, response: HTTPDirectResponse, path: str) -> None:
    if not 200 <= response.status <= 600:
        v.error(f"HTTP status {response.status} is not in range 200-599", f"{path}.status")
    body = response.body
    if body is None:
        return
    if body.string and body.bytes:
        v.error("only one of string or bytes may be set in the direct response body", path)
    size = max(len(body.string.encode()), len(body.bytes) * 3 // 4)
    if size > _DIRECT_RESPONSE_MAX:
        v.error(f"{_LARGE_BODY}, must be less than 1MB", f"{path}.body")
    elif size > _DIRECT_RESPONSE_WARN:
        v.warn(_LARGE_BODY, f"{path}.body")


def _check_cors(v: Verdict, cors: CorsPolicy, path: str) -> None:
    for index, origin in enumerate(cors.allow_origins):
        where = f"{path}.allowOrigins[{index}]"
        # Istio prints the empty value it found (always ''): unset and empty are the same to it.
        if not (origin.exact or origin.prefix or origin.regex):
            v.error("'' is not a valid match type for CORS allow origins", where)
        else:
            check_string_match(v, origin, "corsPolicy.allowOrigins", where)
    for method in cors.allow_methods:
        if method not in CORS_METHODS:
            v.error(
                f"{fields.go_quote(method)} is not a supported HTTP method", f"{path}.allowMethods"
            )
    for what, names in (
        ("allowHeaders", cors.allow_headers),
        ("exposeHeaders", cors.expose_headers),
    ):
        for name in names:
            if name != "*" and (problem := fields.header_name_error(name, allow_claims=False)):
                v.error(problem, f"{path}.{what}")
    if cors.max_age:
        check_duration(v, cors.max_age, f"{path}.maxAge")
        nanos = fields.parse_duration(cors.max_age)
        if nanos is not None and nanos % 1_000_000_000:
            v.error("max_age duration is accurate only to seconds precision", f"{path}.maxAge")
