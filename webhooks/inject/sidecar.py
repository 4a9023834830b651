"""Builders for what injection adds: the istio-init and istio-proxy containers and their volumes."""

import functools
from dataclasses import dataclass
from typing import Any

from webhooks import mesh
from webhooks.admission import jsontext
from webhooks.inject import formats, metadata
from webhooks.inject.annotations import Settings, shared_defaults
from webhooks.inject.config import InjectConfig
from webhooks.inject.probes import IsCaptured

# Ports never captured inbound: Envoy's metrics and health listeners (the status port is added).
ALWAYS_EXCLUDED_INBOUND = (mesh.ENVOY_PROMETHEUS_PORT, mesh.HEALTH_PORT)
AGENT_WAIT = ("wait",)  # `mesh-webhooks agent wait`: the holdApplicationUntilProxyStarts hook
AGENT_DRAIN = ("drain",)  # `mesh-webhooks agent drain`: a native sidecar's preStop hook


def excluded_inbound_ports(settings: Settings) -> tuple[int, ...]:
    """-d: 15090, 15021, the user's excludeInboundPorts, then the status port once."""
    return _excluded_inbound_ports(settings.exclude_inbound_ports, settings.status_port)


# The derived values below are cached on the settings they come from: most pods share the
# config's defaults, and the caches are bounded for the ones that set annotations.
@functools.lru_cache(maxsize=256)
def _excluded_inbound_ports(exclude_inbound_ports: str, status_port: int) -> tuple[int, ...]:
    ports = [*ALWAYS_EXCLUDED_INBOUND, *formats.ports(exclude_inbound_ports)]
    if status_port not in ports:
        ports.append(status_port)
    return tuple(ports)


def captures(settings: Settings) -> IsCaptured:
    """Whether the kubelet's probes to a port would be redirected to Envoy."""
    return _capture_rule(
        settings.interception_mode,
        settings.include_inbound_ports,
        excluded_inbound_ports(settings),
    )


@functools.lru_cache(maxsize=256)  # most pods share the defaults; bounded for the others
def _capture_rule(mode: str, include: str, excluded_ports: tuple[int, ...]) -> IsCaptured:
    if mode == "NONE":
        return lambda port: False
    excluded = frozenset(excluded_ports)
    include = include.strip()
    if include == "*":
        return lambda port: port not in excluded
    included = set(formats.ports(include))
    return lambda port: port in included


def iptables_args(settings: Settings) -> list[str]:
    """istio-iptables-compatible flags for `mesh-webhooks iptables`."""
    s = settings
    return list(
        _iptables_args(
            s.interception_mode, s.include_outbound_ip_ranges, s.exclude_outbound_ip_ranges,
            s.include_inbound_ports, excluded_inbound_ports(s), s.include_outbound_ports,
            s.exclude_outbound_ports, s.exclude_interfaces,
        )
    )  # fmt: skip


@functools.lru_cache(maxsize=256)
def _iptables_args(
    mode: str,
    include_outbound_ip_ranges: str,
    exclude_outbound_ip_ranges: str,
    include_inbound_ports: str,
    exclude_inbound_ports: tuple[int, ...],
    include_outbound_ports: str,
    exclude_outbound_ports: str,
    exclude_interfaces: str,
) -> tuple[str, ...]:
    args = [
        "-p", str(mesh.OUTBOUND_CAPTURE_PORT),
        "-z", str(mesh.INBOUND_CAPTURE_PORT),
        "-u", str(mesh.PROXY_UID),
        "-m", mode,
        "-i", include_outbound_ip_ranges,
        "-x", exclude_outbound_ip_ranges,
        "-b", include_inbound_ports,
        "-d", ",".join(str(port) for port in exclude_inbound_ports),
    ]  # fmt: skip
    optional = (
        ("-q", include_outbound_ports),
        ("-o", exclude_outbound_ports),
        ("-c", exclude_interfaces),
    )
    args.extend(item for flag, value in optional if value for item in (flag, value))
    return tuple(args)


def _resources(settings: Settings) -> dict[str, Any]:
    return {kind: dict(values) for kind, values in settings.resources.items()}


def init_container(config: InjectConfig, settings: Settings) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": mesh.INIT_CONTAINER,
        "image": settings.init_image,
        "command": list(config.init_command),
        "args": iptables_args(settings),
        "resources": _resources(settings),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
            "readOnlyRootFilesystem": False,
            "runAsGroup": 0,
            "runAsNonRoot": False,
            "runAsUser": 0,
        },
    }
    if config.image_pull_policy:
        container["imagePullPolicy"] = config.image_pull_policy
    return container


def _field_env(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


def proxy_config_json(settings: Settings) -> str:
    return _proxy_config_json(
        settings.status_port, settings.drain_duration, settings.hold_application,
        settings.concurrency,
    )  # fmt: skip


@functools.lru_cache(maxsize=256)
def _proxy_config_json(
    status_port: int, drain_duration: str, hold_application: bool, concurrency: int | None
) -> str:
    document: dict[str, Any] = {
        "statusPort": status_port,
        "terminationDrainDuration": drain_duration,
        "holdApplicationUntilProxyStarts": hold_application,
    }
    if concurrency is not None:
        document["concurrency"] = concurrency
    return jsontext.compact(document)


def _env(settings: Settings) -> list[dict[str, Any]]:
    return [
        _field_env(mesh.POD_NAME_ENV, "metadata.name"),
        _field_env(mesh.POD_NAMESPACE_ENV, "metadata.namespace"),
        _field_env(mesh.INSTANCE_IP_ENV, "status.podIP"),
        _field_env(mesh.SERVICE_ACCOUNT_ENV, "spec.serviceAccountName"),
        _field_env(mesh.NODE_NAME_ENV, "spec.nodeName"),
        {"name": mesh.PROXY_CONFIG_ENV, "value": proxy_config_json(settings)},
        {"name": mesh.PROXY_LOG_LEVEL_ENV, "value": settings.log_level},
        {"name": mesh.PROXY_COMPONENT_LOG_LEVEL_ENV, "value": settings.component_log_level},
    ]


def _health_probe(period: int, failure_threshold: int, initial_delay: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": "/healthz/ready", "port": mesh.HEALTH_PORT},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failure_threshold,
    }


def _mounts(settings: Settings) -> list[dict[str, Any]]:
    return [
        {"name": mesh.ENVOY_VOLUME, "mountPath": mesh.ENVOY_DIR},
        {"name": mesh.PODINFO_VOLUME, "mountPath": mesh.PODINFO_DIR},
        {"name": mesh.BOOTSTRAP_VOLUME, "mountPath": mesh.BOOTSTRAP_DIR, "readOnly": True},
        *(dict(mount) for mount in settings.user_volume_mounts),
    ]


def proxy_container(config: InjectConfig, settings: Settings) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": mesh.PROXY_CONTAINER,
        "image": settings.proxy_image,
        "command": list(config.proxy_command),
        "ports": [
            {
                "containerPort": mesh.ENVOY_PROMETHEUS_PORT,
                "name": "http-envoy-prom",
                "protocol": "TCP",
            }
        ],
        "env": _env(settings),
        "resources": _resources(settings),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "runAsGroup": mesh.PROXY_GID,
            "runAsNonRoot": True,
            "runAsUser": mesh.PROXY_UID,
        },
        "startupProbe": _health_probe(1, config.readiness.startup_failure_threshold, 0),
        "readinessProbe": _health_probe(
            settings.readiness_period,
            settings.readiness_failure_threshold,
            settings.readiness_initial_delay,
        ),
        "volumeMounts": _mounts(settings),
    }
    if config.image_pull_policy:
        container["imagePullPolicy"] = config.image_pull_policy
    if settings.native:
        container["restartPolicy"] = "Always"
        # The kubelet stops a native sidecar only after the app containers have exited, but
        # runs its preStop hook as soon as the pod starts terminating: as in Istio, that is
        # when Envoy starts draining, alongside the app rather than after it.
        drain = [*config.proxy_command, *AGENT_DRAIN]
        container["lifecycle"] = {"preStop": {"exec": {"command": drain}}}
    elif settings.hold_application:
        wait = [*config.proxy_command, *AGENT_WAIT]
        container["lifecycle"] = {"postStart": {"exec": {"command": wait}}}
    return container


def volumes(config: InjectConfig, settings: Settings) -> list[dict[str, Any]]:
    podinfo_items = [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
    ]
    return [
        {"name": mesh.ENVOY_VOLUME, "emptyDir": {"medium": "Memory"}},
        {"name": mesh.PODINFO_VOLUME, "downwardAPI": {"items": podinfo_items}},
        {
            "name": mesh.BOOTSTRAP_VOLUME,
            # Optional: a ConfigMap only exists where a user put one (volumes are namespaced);
            # without it the agent uses the bootstrap packaged in the image.
            "configMap": {"name": config.bootstrap_config_map, "optional": True},
        },
        *(dict(volume) for volume in settings.user_volumes),
    ]


@dataclass(frozen=True)
class Parts:
    """Everything injection adds for one config and settings. Shared between pods (see `parts`):
    read-only, like the injected pods that hold them."""

    init: dict[str, Any] | None  # None when interception is off
    proxy: dict[str, Any]
    volumes: tuple[dict[str, Any], ...]
    volume_names: frozenset[str]
    status: str  # the sidecar.istio.io/status record, for the layout `place` makes
    captures: IsCaptured  # whether the kubelet's probes to a port would reach Envoy

    def proxy_with(self, env: list[dict[str, Any]]) -> dict[str, Any]:
        """The proxy container with this pod's env entries appended: only it and its env are
        new; the rest stays shared."""
        if not env:
            return self.proxy
        return {**self.proxy, "env": [*self.proxy["env"], *env]}


def _build(config: InjectConfig, settings: Settings) -> Parts:
    init = init_container(config, settings) if settings.interception_mode != "NONE" else None
    proxy = proxy_container(config, settings)
    added_inits = [*([init] if init else []), *([proxy] if settings.native else [])]
    added_apps = [] if settings.native else [proxy]
    added_volumes = volumes(config, settings)
    status = metadata.status_json(
        [c["name"] for c in added_inits],
        [c["name"] for c in added_apps],
        [v["name"] for v in added_volumes],
        config.revision,
    )
    names = frozenset(volume["name"] for volume in added_volumes)
    return Parts(init, proxy, tuple(added_volumes), names, status, captures(settings))


# The parts of the pods that tune nothing, per layout, for the config in force (by identity, as
# annotations.shared_defaults); pods with tuning annotations get theirs built afresh.
_shared: dict[bool, tuple[InjectConfig, Settings, Parts]] = {}


def parts(config: InjectConfig, settings: Settings) -> Parts:
    cached = _shared.get(settings.native)
    if cached is not None and cached[0] is config and cached[1] is settings:
        return cached[2]
    built = _build(config, settings)
    if settings is shared_defaults(config, settings.native):
        _shared[settings.native] = (config, settings, built)
    return built
