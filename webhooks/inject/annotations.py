"""Pod annotations that tune injection: parsed and checked once, into per-pod settings.

A bad value raises AnnotationError, which names the annotation and the value; the webhook turns
it into allowed:false. Every setting falls back to the InjectConfig default.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml

from webhooks import mesh, yamlio
from webhooks.inject import formats
from webhooks.inject.config import INT32_MAX, InjectConfig

PROXY_IMAGE = "sidecar.istio.io/proxyImage"
PROXY_CPU = "sidecar.istio.io/proxyCPU"
PROXY_MEMORY = "sidecar.istio.io/proxyMemory"
PROXY_CPU_LIMIT = "sidecar.istio.io/proxyCPULimit"
PROXY_MEMORY_LIMIT = "sidecar.istio.io/proxyMemoryLimit"
LOG_LEVEL = "sidecar.istio.io/logLevel"
COMPONENT_LOG_LEVEL = "sidecar.istio.io/componentLogLevel"
INTERCEPTION_MODE = "sidecar.istio.io/interceptionMode"
NATIVE_SIDECAR = "sidecar.istio.io/nativeSidecar"
REWRITE_PROBES = "sidecar.istio.io/rewriteAppHTTPProbers"
USER_VOLUME = "sidecar.istio.io/userVolume"
USER_VOLUME_MOUNT = "sidecar.istio.io/userVolumeMount"
STATUS_PORT = "status.sidecar.istio.io/port"
READINESS_INITIAL_DELAY = "readiness.status.sidecar.istio.io/initialDelaySeconds"
READINESS_PERIOD = "readiness.status.sidecar.istio.io/periodSeconds"
READINESS_FAILURE_THRESHOLD = "readiness.status.sidecar.istio.io/failureThreshold"
PROXY_CONFIG = "proxy.istio.io/config"
MERGE_METRICS = "prometheus.istio.io/merge-metrics"
_TRAFFIC = "traffic.sidecar.istio.io/"
INCLUDE_OUTBOUND_IP_RANGES = _TRAFFIC + "includeOutboundIPRanges"
EXCLUDE_OUTBOUND_IP_RANGES = _TRAFFIC + "excludeOutboundIPRanges"
INCLUDE_INBOUND_PORTS = _TRAFFIC + "includeInboundPorts"
EXCLUDE_INBOUND_PORTS = _TRAFFIC + "excludeInboundPorts"
INCLUDE_OUTBOUND_PORTS = _TRAFFIC + "includeOutboundPorts"
EXCLUDE_OUTBOUND_PORTS = _TRAFFIC + "excludeOutboundPorts"
EXCLUDE_INTERFACES = _TRAFFIC + "excludeInterfaces"

RESOURCE_ANNOTATIONS = {
    PROXY_CPU: ("requests", "cpu"),
    PROXY_MEMORY: ("requests", "memory"),
    PROXY_CPU_LIMIT: ("limits", "cpu"),
    PROXY_MEMORY_LIMIT: ("limits", "memory"),
}
SUPPORTED_PROXY_CONFIG = (
    "holdApplicationUntilProxyStarts",
    "concurrency",
    "terminationDrainDuration",
)
_TRUE, _FALSE = (
    frozenset({"1", "t", "T", "true", "TRUE", "True"}),
    frozenset({"0", "f", "F", "false", "FALSE", "False"}),
)
_T = TypeVar("_T")


class InjectionError(ValueError):
    """The pod cannot be injected as it is; the message tells the user why."""


_QUOTED = 200  # characters of a bad value that its message quotes: an annotation can be huge


class AnnotationError(InjectionError):
    def __init__(self, key: str, value: str, why: str) -> None:
        shown = repr(value)
        if len(value) > _QUOTED:
            shown = f"{value[:_QUOTED]!r}... ({len(value)} characters)"
        super().__init__(f"invalid value {shown} for annotation {key!r}: {why}")
        self.key = key


@dataclass(frozen=True)
class Settings:
    """What one pod gets: the config defaults with the pod's annotations applied."""

    native: bool
    proxy_image: str
    init_image: str  # the proxyImage annotation sets both images
    status_port: int
    interception_mode: str
    include_outbound_ip_ranges: str
    exclude_outbound_ip_ranges: str
    include_inbound_ports: str
    exclude_inbound_ports: str
    include_outbound_ports: str
    exclude_outbound_ports: str
    exclude_interfaces: str
    resources: dict[str, dict[str, str]]
    log_level: str
    component_log_level: str
    readiness_initial_delay: int
    readiness_period: int
    readiness_failure_threshold: int
    hold_application: bool
    concurrency: int | None
    drain_duration: str
    rewrite_probes: bool
    merge_metrics: bool
    user_volumes: tuple[dict[str, Any], ...]
    user_volume_mounts: tuple[dict[str, Any], ...]
    # What the pod asked for that is not implemented; built with the settings, so the pods
    # that share the defaults share its emptiness too.
    warnings: tuple[str, ...]


def parse_bool(key: str, value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise AnnotationError(key, value, "want true or false")


def _checked(check: Callable[[str], _T]) -> Callable[[str, str], _T]:
    """A formats.py check as an annotation parser: its complaint names the annotation."""

    def parse(key: str, value: str) -> _T:
        try:
            return check(value)
        except ValueError as error:
            raise AnnotationError(key, value, str(error)) from None

    return parse


def _int(low: int, high: int) -> Callable[[str, str], int]:
    return _checked(lambda value: formats.integer(value, low, high))


_non_negative, _positive = _int(0, INT32_MAX), _int(1, INT32_MAX)

_ports, _ports_or_star = _checked(formats.port_list), _checked(formats.port_list_or_star)
_cidrs, _cidrs_or_star = _checked(formats.cidr_list), _checked(formats.cidr_list_or_star)
_interfaces, _mode = _checked(formats.interfaces), _checked(formats.interception_mode)
_log_level = _checked(formats.log_level)
_component_log_level = _checked(formats.component_log_level)
_status_port = _checked(lambda value: formats.status_port(formats.integer(value, 1, 65535)))


def _quantity(key: str, value: str) -> str:
    if not formats.is_quantity(value):
        raise AnnotationError(key, value, "not a Kubernetes quantity (e.g. 100m, 128Mi)")
    return value


def _image(key: str, value: str) -> str:
    if not value.strip() or any(c.isspace() for c in value):
        raise AnnotationError(key, value, "not an image reference")
    return value


def _named_objects(key: str, value: str, field: str) -> tuple[dict[str, Any], ...]:
    """userVolume / userVolumeMount: a JSON object mapping a volume name to its spec."""
    try:
        document = yamlio.load_json(value)
    except yamlio.NestedTooDeeply:
        raise AnnotationError(key, value, "nested too deeply") from None
    except ValueError as error:
        raise AnnotationError(key, value, f"not JSON: {error}") from None
    if not isinstance(document, dict) or not all(isinstance(v, dict) for v in document.values()):
        raise AnnotationError(key, value, f"want a JSON object of volume name to {field}")
    return tuple({"name": name, **spec} for name, spec in document.items())


def _proxy_config(
    value: str | None, config: InjectConfig
) -> tuple[bool, int | None, str, tuple[str, ...]]:
    """proxy.istio.io/config: the fields our agent honours, and the names of the ignored ones."""
    hold, concurrency = config.hold_application_until_proxy_starts, config.concurrency
    drain = config.termination_drain_duration
    if value is None:
        return hold, concurrency, drain, ()
    try:
        document = yamlio.safe_load(value)
    except yamlio.NestedTooDeeply:
        raise AnnotationError(PROXY_CONFIG, value, "nested too deeply") from None
    except yaml.YAMLError:
        raise AnnotationError(PROXY_CONFIG, value, "not YAML or JSON") from None
    document = {} if document is None else document
    if not isinstance(document, dict):
        raise AnnotationError(PROXY_CONFIG, value, "want a ProxyConfig mapping")
    if "holdApplicationUntilProxyStarts" in document:
        hold = document["holdApplicationUntilProxyStarts"]
        if not isinstance(hold, bool):
            raise AnnotationError(
                PROXY_CONFIG, value, "holdApplicationUntilProxyStarts: want a bool"
            )
    if "concurrency" in document:
        concurrency = document["concurrency"]
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 0:
            raise AnnotationError(PROXY_CONFIG, value, "concurrency: want an integer >= 0")
    if "terminationDrainDuration" in document:
        drain = document["terminationDrainDuration"]
        if not isinstance(drain, str):
            raise AnnotationError(PROXY_CONFIG, value, "terminationDrainDuration: want e.g. 5s")
        try:
            formats.duration(drain)  # the checks of the config file's terminationDrainDuration
        except ValueError as error:
            raise AnnotationError(
                PROXY_CONFIG, value, f"terminationDrainDuration: {error}"
            ) from None
    ignored = tuple(sorted(str(k) for k in document if k not in SUPPORTED_PROXY_CONFIG))
    return hold, concurrency, drain, ignored


_REQUEST_AND_LIMIT = {
    "cpu": (PROXY_CPU, PROXY_CPU_LIMIT),
    "memory": (PROXY_MEMORY, PROXY_MEMORY_LIMIT),
}


def _resources(annotations: Mapping[str, str], config: InjectConfig) -> dict[str, dict[str, str]]:
    """Unlike Istio, an annotation replaces one field and the other defaults stay. A default
    that would then be on the wrong side of an annotated value (proxyCPU: 4 against the default
    limit of 2) is dropped: without it, Kubernetes takes the request to be the limit, and a
    missing limit is none, as Istio's annotation alone gives. Two annotations that conflict are
    refused, as the apiserver would refuse the pod."""
    defaults = config.proxy_resources
    resources = {"requests": dict(defaults.requests), "limits": dict(defaults.limits)}
    for key, (kind, resource) in RESOURCE_ANNOTATIONS.items():
        if key in annotations:
            resources[kind][resource] = _quantity(key, annotations[key])
    for resource, (request_key, limit_key) in _REQUEST_AND_LIMIT.items():
        if request_key not in annotations and limit_key not in annotations:
            continue  # the defaults alone were checked when the config loaded
        request, limit = resources["requests"].get(resource), resources["limits"].get(resource)
        if request is None or limit is None:
            continue
        if formats.quantity_amount(request) <= formats.quantity_amount(limit):
            continue
        if request_key in annotations and limit_key in annotations:
            raise AnnotationError(request_key, request, f"above {limit_key} {limit!r}")
        del resources["limits" if request_key in annotations else "requests"][resource]
    return {kind: values for kind, values in resources.items() if values}


# What the proxy container already has: a second volume or mount path of these would make the
# pod invalid ("Duplicate value").
INJECTED_VOLUMES = frozenset({mesh.ENVOY_VOLUME, mesh.PODINFO_VOLUME, mesh.BOOTSTRAP_VOLUME})
_INJECTED_MOUNT_PATHS = frozenset({mesh.ENVOY_DIR, mesh.PODINFO_DIR, mesh.BOOTSTRAP_DIR})


def _user_volumes(key: str, value: str) -> tuple[dict[str, Any], ...]:
    volumes = _named_objects(key, value, "volume")
    for volume in volumes:
        if volume["name"] in INJECTED_VOLUMES:
            raise AnnotationError(key, value, f"{volume['name']!r} is a volume the injector adds")
    return volumes


def _user_mounts(key: str, value: str) -> tuple[dict[str, Any], ...]:
    mounts = _named_objects(key, value, "volumeMount")
    if not all(isinstance(mount.get("mountPath"), str) for mount in mounts):
        raise AnnotationError(key, value, "every mount needs a mountPath")
    paths: set[str] = set()
    for mount in mounts:
        path = mount["mountPath"]
        if path in _INJECTED_MOUNT_PATHS:
            raise AnnotationError(key, value, f"mountPath {path!r} is one the injector uses")
        if path in paths:
            raise AnnotationError(key, value, f"two mounts at mountPath {path!r}")
        paths.add(path)
    return mounts


SETTING_ANNOTATIONS = frozenset(
    {
        PROXY_IMAGE, *RESOURCE_ANNOTATIONS, LOG_LEVEL, COMPONENT_LOG_LEVEL, INTERCEPTION_MODE,
        NATIVE_SIDECAR, REWRITE_PROBES, USER_VOLUME, USER_VOLUME_MOUNT, STATUS_PORT,
        READINESS_INITIAL_DELAY, READINESS_PERIOD, READINESS_FAILURE_THRESHOLD, PROXY_CONFIG,
        MERGE_METRICS, INCLUDE_OUTBOUND_IP_RANGES, EXCLUDE_OUTBOUND_IP_RANGES,
        INCLUDE_INBOUND_PORTS, EXCLUDE_INBOUND_PORTS, INCLUDE_OUTBOUND_PORTS,
        EXCLUDE_OUTBOUND_PORTS, EXCLUDE_INTERFACES,
    }
)  # fmt: skip
# Istio annotations that change what Istio injects but that this injector does not implement:
# the pod is injected without them, and the response warns (rather than a silent difference).
UNSUPPORTED_ANNOTATIONS = frozenset(
    {
        "inject.istio.io/templates",  # Istio's gateway and custom injection templates
        "proxy.istio.io/overrides",  # Istio's record of a user's istio-proxy overrides
        "sidecar.istio.io/bootstrapOverride",
        "sidecar.istio.io/proxyImageType",
        "sidecar.istio.io/agentLogLevel",
        "sidecar.istio.io/capNetBindService",
        "sidecar.istio.io/enableCoreDump",
        "sidecar.istio.io/extraStatTags",  # the stats annotations: Envoy's stats config is ours
        "sidecar.istio.io/statsHistogramBuckets",
        "sidecar.istio.io/statsInclusionPrefixes",
        "sidecar.istio.io/statsInclusionRegexps",
        "sidecar.istio.io/statsInclusionSuffixes",
        "sidecar.istio.io/discoveryAddress",  # no xDS control plane
        "sidecar.istio.io/controlPlaneAuthPolicy",
        "traffic.sidecar.istio.io/kubevirtInterfaces",
        "istio.io/reroute-virtual-interfaces",
    }
)
_NOT_SHARED = SETTING_ANNOTATIONS | UNSUPPORTED_ANNOTATIONS
# The settings of pods without any of those annotations, per layout, for the config in force
# (compared by identity: a reload brings a new config object).
_defaults: dict[bool, tuple[InjectConfig, Settings]] = {}


def parse_settings(annotations: Mapping[str, str], config: InjectConfig, native: bool) -> Settings:
    """`native` is the cluster-wide layout; the nativeSidecar annotation overrides it. Most pods
    set none of the annotations, and they share one Settings per config: treat it as read-only."""
    if not annotations.keys().isdisjoint(_NOT_SHARED):
        return _parse_settings(annotations, config, native)
    return shared_defaults(config, native)


def shared_defaults(config: InjectConfig, native: bool) -> Settings:
    """The one Settings of the pods that tune nothing; what derives from it can be shared too."""
    cached = _defaults.get(native)
    if cached is None or cached[0] is not config:
        cached = _defaults[native] = (config, _parse_settings({}, config, native))
    return cached[1]


def _parse_settings(annotations: Mapping[str, str], config: InjectConfig, native: bool) -> Settings:
    """Long but flat: one line per setting, each an annotation, its check and its default."""
    traffic, readiness = config.traffic, config.readiness

    def get(key: str, parse: Callable[[str, str], _T], default: _T) -> _T:
        value = annotations.get(key)
        return default if value is None else parse(key, value)

    hold, concurrency, drain, ignored = _proxy_config(annotations.get(PROXY_CONFIG), config)
    return Settings(
        native=get(NATIVE_SIDECAR, parse_bool, native),
        proxy_image=get(PROXY_IMAGE, _image, config.proxy_image),
        init_image=get(PROXY_IMAGE, _image, config.init_image),
        status_port=get(STATUS_PORT, _status_port, config.status_port),
        interception_mode=get(INTERCEPTION_MODE, _mode, traffic.interception_mode),
        include_outbound_ip_ranges=get(
            INCLUDE_OUTBOUND_IP_RANGES, _cidrs_or_star, traffic.include_outbound_ip_ranges
        ),
        exclude_outbound_ip_ranges=get(
            EXCLUDE_OUTBOUND_IP_RANGES, _cidrs, traffic.exclude_outbound_ip_ranges
        ),
        include_inbound_ports=get(
            INCLUDE_INBOUND_PORTS, _ports_or_star, traffic.include_inbound_ports
        ),
        exclude_inbound_ports=get(EXCLUDE_INBOUND_PORTS, _ports, traffic.exclude_inbound_ports),
        include_outbound_ports=get(INCLUDE_OUTBOUND_PORTS, _ports, traffic.include_outbound_ports),
        exclude_outbound_ports=get(EXCLUDE_OUTBOUND_PORTS, _ports, traffic.exclude_outbound_ports),
        exclude_interfaces=get(EXCLUDE_INTERFACES, _interfaces, traffic.exclude_interfaces),
        resources=_resources(annotations, config),
        log_level=get(LOG_LEVEL, _log_level, config.log_level),
        component_log_level=get(
            COMPONENT_LOG_LEVEL, _component_log_level, config.component_log_level
        ),
        readiness_initial_delay=get(
            READINESS_INITIAL_DELAY, _non_negative, readiness.initial_delay_seconds
        ),
        readiness_period=get(READINESS_PERIOD, _positive, readiness.period_seconds),
        readiness_failure_threshold=get(
            READINESS_FAILURE_THRESHOLD, _positive, readiness.failure_threshold
        ),
        hold_application=hold,
        concurrency=concurrency,
        drain_duration=drain,
        rewrite_probes=get(REWRITE_PROBES, parse_bool, config.rewrite_app_http_probe),
        merge_metrics=get(MERGE_METRICS, parse_bool, config.enable_prometheus_merge),
        user_volumes=get(USER_VOLUME, _user_volumes, ()),
        user_volume_mounts=get(USER_VOLUME_MOUNT, _user_mounts, ()),
        warnings=_warnings(annotations, ignored),
    )


def _warnings(
    annotations: Mapping[str, str], ignored_proxy_config: tuple[str, ...]
) -> tuple[str, ...]:
    warnings = []
    if unsupported := [key for key in annotations if key in UNSUPPORTED_ANNOTATIONS]:
        warnings.append(
            f"annotations not supported by mesh-webhooks are ignored: {', '.join(unsupported)}"
        )
    if ignored_proxy_config:
        warnings.append(
            f"proxy.istio.io/config fields not supported by mesh-webhooks are ignored: "
            f"{', '.join(ignored_proxy_config)}"
        )
    return tuple(warnings)
