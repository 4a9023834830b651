"""security.istio.io AuthorizationPolicy, PeerAuthentication and RequestAuthentication."""

from typing import Annotated, Literal

from pydantic import Field

from webhooks.validate.models.base import (
    Duration,
    LabelSelector,
    Model,
    NonEmpty,
    PolicyTargetReference,
)


class Source(Model):
    principals: list[str] = Field(default_factory=list)
    not_principals: list[str] = Field(default_factory=list)
    request_principals: list[str] = Field(default_factory=list)
    not_request_principals: list[str] = Field(default_factory=list)
    namespaces: list[str] = Field(default_factory=list)
    not_namespaces: list[str] = Field(default_factory=list)
    service_accounts: list[str] = Field(default_factory=list)
    not_service_accounts: list[str] = Field(default_factory=list)
    ip_blocks: list[str] = Field(default_factory=list)
    not_ip_blocks: list[str] = Field(default_factory=list)
    remote_ip_blocks: list[str] = Field(default_factory=list)
    not_remote_ip_blocks: list[str] = Field(default_factory=list)
    trust_domains: list[str] = Field(default_factory=list)
    not_trust_domains: list[str] = Field(default_factory=list)


class Operation(Model):
    hosts: list[str] = Field(default_factory=list)
    not_hosts: list[str] = Field(default_factory=list)
    ports: list[str] = Field(default_factory=list)
    not_ports: list[str] = Field(default_factory=list)
    methods: list[str] = Field(default_factory=list)
    not_methods: list[str] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=list)
    not_paths: list[str] = Field(default_factory=list)


class RuleFrom(Model):
    source: Source | None = None


class RuleTo(Model):
    operation: Operation | None = None


class Condition(Model):
    key: str
    values: list[str] = Field(default_factory=list)
    not_values: list[str] = Field(default_factory=list)


class Rule(Model):
    from_: list[RuleFrom | None] = Field(default_factory=list, alias="from")
    to: list[RuleTo | None] = Field(default_factory=list)
    when: list[Condition] = Field(default_factory=list)


class ExtensionProvider(Model):
    name: str = ""


class AuthorizationPolicy(Model):
    """Access control for the workloads it selects."""

    selector: LabelSelector | None = None
    target_ref: PolicyTargetReference | None = None
    target_refs: list[PolicyTargetReference] = Field(default_factory=list)
    rules: list[Rule | None] = Field(default_factory=list)
    action: Literal["ALLOW", "DENY", "AUDIT", "CUSTOM"] | None = None
    provider: ExtensionProvider | None = None


MtlsMode = Literal["UNSET", "DISABLE", "PERMISSIVE", "STRICT"]


class MutualTLS(Model):
    mode: MtlsMode | None = None


class PeerAuthentication(Model):
    """The mTLS mode of the workloads it selects."""

    selector: LabelSelector | None = None
    mtls: MutualTLS | None = None
    port_level_mtls: dict[str, MutualTLS] | None = None


class JWTHeader(Model):
    name: NonEmpty
    prefix: str = ""


class ClaimToHeader(Model):
    header: Annotated[str, Field(min_length=1, pattern=r"^[-_A-Za-z0-9]+$")]
    claim: NonEmpty


class JWTRule(Model):
    issuer: str = ""
    audiences: list[NonEmpty] = Field(default_factory=list)
    jwks_uri: str = ""
    jwks: str = ""
    from_headers: list[JWTHeader] = Field(default_factory=list)
    from_params: list[NonEmpty] = Field(default_factory=list)
    from_cookies: list[NonEmpty] = Field(default_factory=list)
    output_payload_to_header: str = ""
    forward_original_token: bool = False
    output_claim_to_headers: list[ClaimToHeader | None] = Field(default_factory=list)
    timeout: Duration = ""
    space_delimited_claims: list[NonEmpty] = Field(default_factory=list)
    presence: Literal["REQUIRED", "OPTIONAL"] | None = None


class RequestAuthentication(Model):
    """Which JWTs the workloads it selects accept."""

    selector: LabelSelector | None = None
    target_ref: PolicyTargetReference | None = None
    target_refs: list[PolicyTargetReference] = Field(default_factory=list)
    jwt_rules: list[JWTRule] = Field(default_factory=list)
