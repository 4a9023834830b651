"""The injector's configuration: a camelCase YAML file validated into a frozen model, and a store
that reloads it on change while keeping the last good one in force."""

import asyncio
import hashlib
import logging
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from webhooks import mesh, yamlio
from webhooks.inject import formats

logger = logging.getLogger(__name__)

NativeMode = Literal["auto", "true", "false"]
FIRST_NATIVE_SIDECAR_VERSION = (1, 29)  # SidecarContainers is on by default from 1.29
DEFAULT_CONFIG_RESOURCE = "default-config.yaml"


class ConfigError(Exception):
    """The configuration file cannot be used; the message says why."""


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


# Strings checked by the same function as the annotation that overrides them (formats.py).
PortList = Annotated[str, AfterValidator(formats.port_list)]
PortsOrStar = Annotated[str, AfterValidator(formats.port_list_or_star)]
CidrList = Annotated[str, AfterValidator(formats.cidr_list)]
CidrsOrStar = Annotated[str, AfterValidator(formats.cidr_list_or_star)]
Interfaces = Annotated[str, AfterValidator(formats.interfaces)]
InterceptionMode = Annotated[str, AfterValidator(formats.interception_mode)]
LogLevel = Annotated[str, AfterValidator(formats.log_level)]
ComponentLogLevel = Annotated[str, AfterValidator(formats.component_log_level)]
Duration = Annotated[str, AfterValidator(formats.duration)]
LabelValue = Annotated[str, AfterValidator(formats.label_value)]
StatusPort = Annotated[int, AfterValidator(formats.status_port)]


class SelectorRequirement(_Model):
    key: str = Field(min_length=1)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _values_fit_the_operator(self) -> "SelectorRequirement":
        """Kubernetes' rule: In and NotIn need values, Exists and DoesNotExist take none. An
        In or NotIn without values would match no pod or every pod."""
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs values")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        return self


class LabelSelector(_Model):
    """A metav1.LabelSelector: every matchLabels entry and every expression must hold."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: tuple[SelectorRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.match_labels and not self.match_expressions

    def matches(self, labels: dict[str, str]) -> bool:
        if any(labels.get(key) != value for key, value in self.match_labels.items()):
            return False
        for requirement in self.match_expressions:
            present, value = requirement.key in labels, labels.get(requirement.key)
            holds = {
                "In": present and value in requirement.values,
                "NotIn": not present or value not in requirement.values,
                "Exists": present,
                "DoesNotExist": not present,
            }[requirement.operator]
            if not holds:
                return False
        return True


class Resources(_Model):
    requests: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, str] = Field(default_factory=dict)


class Traffic(_Model):
    """Defaults of the traffic.sidecar.istio.io/* annotations (istio-iptables flags)."""

    interception_mode: InterceptionMode = "REDIRECT"
    include_outbound_ip_ranges: CidrsOrStar = Field(default="*", alias="includeOutboundIPRanges")
    exclude_outbound_ip_ranges: CidrList = Field(default="", alias="excludeOutboundIPRanges")
    include_inbound_ports: PortsOrStar = "*"
    exclude_inbound_ports: PortList = ""
    include_outbound_ports: PortList = ""
    exclude_outbound_ports: PortList = ""
    exclude_interfaces: Interfaces = ""


INT32_MAX = 2**31 - 1  # Kubernetes' probe fields are int32


class Readiness(_Model):
    initial_delay_seconds: int = Field(default=0, ge=0, le=INT32_MAX)
    period_seconds: int = Field(default=15, ge=1, le=INT32_MAX)
    failure_threshold: int = Field(default=4, ge=1, le=INT32_MAX)
    startup_failure_threshold: int = Field(default=600, ge=1, le=INT32_MAX)


class InjectConfig(_Model):
    """Everything the injector needs that is not in the pod. See docs/injection.md."""

    policy: Literal["enabled", "disabled"] = "enabled"
    revision: LabelValue = mesh.DEFAULT_REVISION
    proxy_image: str = Field(default="ghcr.io/mesh-webhooks/proxy:0.1.0", min_length=1)
    init_image: str = Field(default="ghcr.io/mesh-webhooks/proxy:0.1.0", min_length=1)
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    proxy_command: tuple[str, ...] = ("mesh-webhooks", "agent")
    init_command: tuple[str, ...] = ("mesh-webhooks", "iptables")
    proxy_resources: Resources = Resources(
        requests={"cpu": "100m", "memory": "128Mi"}, limits={"cpu": "2", "memory": "1Gi"}
    )
    never_inject_selector: tuple[LabelSelector, ...] = ()
    always_inject_selector: tuple[LabelSelector, ...] = ()
    native_sidecars: NativeMode = "auto"
    status_port: StatusPort = mesh.STATUS_PORT
    rewrite_app_http_probe: bool = Field(default=True, alias="rewriteAppHTTPProbe")
    enable_prometheus_merge: bool = True
    hold_application_until_proxy_starts: bool = False
    ignored_namespaces: tuple[str, ...] = (
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "local-path-storage",
    )
    bootstrap_config_map: str = Field(default=mesh.DEFAULT_BOOTSTRAP_CONFIGMAP, min_length=1)
    log_level: LogLevel = "warning"
    component_log_level: ComponentLogLevel = "misc:error"
    termination_drain_duration: Duration = "5s"
    concurrency: int | None = Field(default=None, ge=0)
    traffic: Traffic = Traffic()
    readiness: Readiness = Readiness()

    @field_validator("native_sidecars", mode="before")
    @classmethod
    def _yaml_bools(cls, value: Any) -> Any:
        # `nativeSidecars: true` in YAML is a bool; the mode is a word.
        return str(value).lower() if isinstance(value, bool) else value

    @field_validator("proxy_command", "init_command")
    @classmethod
    def _non_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or not all(value):
            raise ValueError("must be a non-empty list of non-empty strings")
        return value

    @field_validator("proxy_resources")
    @classmethod
    def _quantities(cls, value: Resources) -> Resources:
        for kind, quantities in (("requests", value.requests), ("limits", value.limits)):
            for resource, quantity in quantities.items():
                if not formats.is_quantity(quantity):
                    raise ValueError(f"{kind}.{resource}: {quantity!r} is not a quantity")
        for resource, request in value.requests.items():
            limit = value.limits.get(resource)
            if limit is not None and formats.quantity_amount(request) > formats.quantity_amount(
                limit
            ):
                raise ValueError(
                    f"requests.{resource} {request!r} is above limits.{resource} {limit!r}"
                )
        return value


def resolve_native_sidecars(mode: NativeMode, server_version: tuple[int, int] | None) -> bool:
    """`auto` means native when the cluster is known to be >= 1.29; unknown means classic."""
    if mode == "auto":
        return server_version is not None and server_version >= FIRST_NATIVE_SIDECAR_VERSION
    return mode == "true"


def _describe(error: pydantic.ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in issue['loc']) or '(top level)'}: "
        f"{issue['msg'].removeprefix('Value error, ')}"
        for issue in error.errors(include_url=False)
    )


def parse_config(
    text: str, source: str = "<config>", empty_is_default: bool = True
) -> InjectConfig:
    """`empty_is_default`: whether a file with no document in it (empty, or only comments) means
    every default, or is refused."""
    try:
        document = yamlio.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: not valid YAML: {error}") from None
    if document is None:
        if not empty_is_default:
            raise ConfigError(f"{source}: empty (write {{}} for every default)")
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: must be a YAML mapping, got {type(document).__name__}")
    try:
        return InjectConfig.model_validate(document)
    except pydantic.ValidationError as error:
        raise ConfigError(f"{source}: invalid injection config: {_describe(error)}") from None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from None


def load_config(path: Path) -> InjectConfig:
    return parse_config(_read(path), str(path))


def default_config() -> InjectConfig:
    """The built-in default: the committed example file, shipped in the package."""
    text = resources.files("webhooks.inject").joinpath(DEFAULT_CONFIG_RESOURCE).read_text()
    return parse_config(text, DEFAULT_CONFIG_RESOURCE)


class ConfigStore:
    """The config in force. `reload()` swaps in a changed file only if it is valid."""

    def __init__(self, path: Path) -> None:
        self.path = path
        text = _read(path)
        self.current = parse_config(text, str(path))  # no last good yet: an error is fatal
        self._digest = hashlib.sha256(text.encode()).digest()

    def get(self) -> InjectConfig:
        return self.current

    def reload(self) -> bool:
        """True if a new config is now in force. Errors are logged, never raised."""
        try:
            text = _read(self.path)
        except ConfigError as error:
            logger.warning("cannot read injection config", extra={"error": str(error)})
            return False
        digest = hashlib.sha256(text.encode()).digest()
        if digest == self._digest:
            return False
        self._digest = digest
        try:
            # A file that turns empty is more likely caught mid-write than meant to reset every
            # setting (policy, images, revision) at once: `{}` says the latter.
            self.current = parse_config(text, str(self.path), empty_is_default=False)
        except ConfigError as error:
            logger.error(
                "new injection config refused, keeping the previous one",
                extra={"error": str(error), "path": str(self.path)},
            )
            return False
        logger.info("injection config reloaded", extra={"path": str(self.path)})
        return True

    async def watch(self, interval: float = 2.0) -> None:
        """Poll the file's content hash (ConfigMap volumes swap through symlinks)."""
        while True:
            await asyncio.sleep(interval)
            self.reload()
