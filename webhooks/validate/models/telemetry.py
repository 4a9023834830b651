"""telemetry.istio.io Telemetry."""

from typing import Literal

from pydantic import Field

from webhooks.validate.models.base import Duration, LabelSelector, Model, PolicyTargetReference

WorkloadMode = Literal["CLIENT_AND_SERVER", "CLIENT", "SERVER"]
MetricName = Literal[
    "ALL_METRICS",
    "REQUEST_COUNT",
    "REQUEST_DURATION",
    "REQUEST_SIZE",
    "RESPONSE_SIZE",
    "TCP_OPENED_CONNECTIONS",
    "TCP_CLOSED_CONNECTIONS",
    "TCP_SENT_BYTES",
    "TCP_RECEIVED_BYTES",
    "GRPC_REQUEST_MESSAGES",
    "GRPC_RESPONSE_MESSAGES",
]


class ProviderRef(Model):
    name: str = ""


class ModeSelector(Model):
    mode: WorkloadMode | None = None


class Literal_(Model):
    value: str = ""


class Environment(Model):
    name: str = ""
    default_value: str = ""


class RequestHeader(Model):
    name: str = ""
    default_value: str = ""


class CustomTag(Model):
    literal: Literal_ | None = None
    environment: Environment | None = None
    header: RequestHeader | None = None


class Tracing(Model):
    match: ModeSelector | None = None
    providers: list[ProviderRef] = Field(default_factory=list)
    random_sampling_percentage: float | None = None
    disable_span_reporting: bool | None = None
    custom_tags: dict[str, CustomTag | None] = Field(default_factory=dict)
    use_request_id_for_trace_sampling: bool | None = None
    enable_istio_tags: bool | None = None


class MetricSelector(Model):
    metric: MetricName | None = None
    custom_metric: str | None = None
    mode: WorkloadMode | None = None


class TagOverride(Model):
    operation: Literal["UPSERT", "REMOVE"] | None = None
    value: str = ""


class MetricsOverrides(Model):
    match: MetricSelector | None = None
    disabled: bool | None = None
    tag_overrides: dict[str, TagOverride | None] | None = None


class Metrics(Model):
    providers: list[ProviderRef] = Field(default_factory=list)
    overrides: list[MetricsOverrides] = Field(default_factory=list)
    reporting_interval: Duration = ""


class Filter(Model):
    expression: str = ""


class AccessLogging(Model):
    match: ModeSelector | None = None
    providers: list[ProviderRef] = Field(default_factory=list)
    disabled: bool | None = None
    filter: Filter | None = None


class Telemetry(Model):
    """Tracing, metrics and access logging for the workloads it selects."""

    selector: LabelSelector | None = None
    target_ref: PolicyTargetReference | None = None
    target_refs: list[PolicyTargetReference] = Field(default_factory=list)
    tracing: list[Tracing] = Field(default_factory=list)
    metrics: list[Metrics] = Field(default_factory=list)
    access_logging: list[AccessLogging] = Field(default_factory=list)
