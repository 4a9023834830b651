"""networking.istio.io VirtualService."""

from typing import Literal

from pydantic import Field

from webhooks.validate.models.base import Duration, Int32, Model, Percent, PortSelector, UInt32


class StringMatch(Model):
    """A oneof: None means unset, so an explicitly empty prefix can be told apart."""

    exact: str | None = None
    prefix: str | None = None
    regex: str | None = None


class Destination(Model):
    host: str
    subset: str = ""
    port: PortSelector | None = None


class HeaderOperations(Model):
    set: dict[str, str] = Field(default_factory=dict)
    add: dict[str, str] = Field(default_factory=dict)
    remove: list[str] = Field(default_factory=list)


class Headers(Model):
    request: HeaderOperations | None = None
    response: HeaderOperations | None = None


class HTTPMatchRequest(Model):
    name: str = ""
    uri: StringMatch | None = None
    scheme: StringMatch | None = None
    method: StringMatch | None = None
    authority: StringMatch | None = None
    headers: dict[str, StringMatch | None] = Field(default_factory=dict)
    port: UInt32 = 0
    source_labels: dict[str, str] = Field(default_factory=dict)
    gateways: list[str] = Field(default_factory=list)
    query_params: dict[str, StringMatch | None] = Field(default_factory=dict)
    ignore_uri_case: bool = False
    without_headers: dict[str, StringMatch | None] = Field(default_factory=dict)
    source_namespace: str = ""
    stat_prefix: str = ""


class HTTPRouteDestination(Model):
    destination: Destination
    weight: Int32 = 0
    headers: Headers | None = None


class RouteDestination(Model):
    destination: Destination
    weight: Int32 = 0


class HTTPRedirect(Model):
    uri: str = ""
    authority: str = ""
    port: UInt32 = 0
    derive_port: Literal["FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"] | None = None
    scheme: str = ""
    redirect_code: UInt32 = 0


class HTTPBody(Model):
    string: str = ""
    bytes: str = ""


class HTTPDirectResponse(Model):
    status: UInt32
    body: HTTPBody | None = None


class Delegate(Model):
    name: str = ""
    namespace: str = ""


class RegexRewrite(Model):
    match: str = ""
    rewrite: str = ""


class HTTPRewrite(Model):
    uri: str = ""
    authority: str = ""
    uri_regex_rewrite: RegexRewrite | None = None


class HTTPRetry(Model):
    attempts: Int32 = 0
    per_try_timeout: Duration = ""
    retry_on: str = ""
    retry_remote_localities: bool | None = None
    retry_ignore_previous_hosts: bool | None = None
    backoff: Duration = ""


class CorsPolicy(Model):
    allow_origins: list[StringMatch] = Field(default_factory=list)
    allow_origin: list[str] = Field(default_factory=list)
    allow_methods: list[str] = Field(default_factory=list)
    allow_headers: list[str] = Field(default_factory=list)
    expose_headers: list[str] = Field(default_factory=list)
    max_age: Duration = ""
    allow_credentials: bool | None = None
    unmatched_preflights: Literal["UNSPECIFIED", "FORWARD", "IGNORE"] | None = None


class Delay(Model):
    fixed_delay: Duration = ""
    exponential_delay: Duration = ""
    percentage: Percent | None = None
    percent: Int32 = 0


class Abort(Model):
    http_status: Int32 = 0
    grpc_status: str = ""
    http2_error: str = ""
    percentage: Percent | None = None


class HTTPFaultInjection(Model):
    delay: Delay | None = None
    abort: Abort | None = None


class HTTPMirrorPolicy(Model):
    destination: Destination
    percentage: Percent | None = None


class HTTPRoute(Model):
    name: str = ""
    match: list[HTTPMatchRequest | None] = Field(default_factory=list)
    route: list[HTTPRouteDestination] = Field(default_factory=list)
    redirect: HTTPRedirect | None = None
    direct_response: HTTPDirectResponse | None = None
    delegate: Delegate | None = None
    rewrite: HTTPRewrite | None = None
    timeout: Duration = ""
    retries: HTTPRetry | None = None
    fault: HTTPFaultInjection | None = None
    mirror: Destination | None = None
    mirrors: list[HTTPMirrorPolicy] = Field(default_factory=list)
    mirror_percent: UInt32 | None = None
    mirror_percentage: Percent | None = None
    cors_policy: CorsPolicy | None = None
    headers: Headers | None = None


class TLSMatchAttributes(Model):
    sni_hosts: list[str]
    destination_subnets: list[str] = Field(default_factory=list)
    port: UInt32 = 0
    source_labels: dict[str, str] = Field(default_factory=dict)
    gateways: list[str] = Field(default_factory=list)
    source_namespace: str = ""


class L4MatchAttributes(Model):
    destination_subnets: list[str] = Field(default_factory=list)
    port: UInt32 = 0
    source_subnet: str = ""
    source_labels: dict[str, str] = Field(default_factory=dict)
    gateways: list[str] = Field(default_factory=list)
    source_namespace: str = ""


class TLSRoute(Model):
    match: list[TLSMatchAttributes] = Field(default_factory=list)
    route: list[RouteDestination] = Field(default_factory=list)


class TCPRoute(Model):
    match: list[L4MatchAttributes | None] = Field(default_factory=list)
    route: list[RouteDestination] = Field(default_factory=list)


class VirtualService(Model):
    """Routing rules for traffic to a set of hosts."""

    hosts: list[str] = Field(default_factory=list)
    gateways: list[str] = Field(default_factory=list)
    http: list[HTTPRoute] = Field(default_factory=list)
    tls: list[TLSRoute] = Field(default_factory=list)
    tcp: list[TCPRoute] = Field(default_factory=list)
    export_to: list[str] = Field(default_factory=list)
