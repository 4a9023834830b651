"""Builders for what injection adds: the istio-init and istio-proxy containers and their volumes."""

from typing import Any

from webhooks import mesh
from webhooks.inject import encoding
from webhooks.inject.annotations import Settings
from webhooks.inject.config import InjectConfig

# Ports never captured inbound: Envoy's metrics and health listeners (the status port is added).
ALWAYS_EXCLUDED_INBOUND = (mesh.ENVOY_PROMETHEUS_PORT, mesh.HEALTH_PORT)
AGENT_WAIT = ("wait",)  # `mesh-webhooks agent wait`: the holdApplicationUntilProxyStarts hook


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def excluded_inbound_ports(settings: Settings) -> list[int]:
    """-d: 15090, 15021, the user's excludeInboundPorts, then the status port once."""
    ports = [*ALWAYS_EXCLUDED_INBOUND, *(int(p) for p in _split(settings.exclude_inbound_ports))]
    if settings.status_port not in ports:
        ports.append(settings.status_port)
    return ports


def iptables_args(settings: Settings) -> list[str]:
    """istio-iptables-compatible flags for `mesh-webhooks iptables`."""
    args = [
        "-p", str(mesh.OUTBOUND_CAPTURE_PORT),
        "-z", str(mesh.INBOUND_CAPTURE_PORT),
        "-u", str(mesh.PROXY_UID),
        "-m", settings.interception_mode,
        "-i", settings.include_outbound_ip_ranges,
        "-x", settings.exclude_outbound_ip_ranges,
        "-b", settings.include_inbound_ports,
        "-d", ",".join(str(port) for port in excluded_inbound_ports(settings)),
    ]  # fmt: skip
    optional = (
        ("-q", settings.include_outbound_ports),
        ("-o", settings.exclude_outbound_ports),
        ("-c", settings.exclude_interfaces),
    )
    args.extend(item for flag, value in optional if value for item in (flag, value))
    return args


def _resources(settings: Settings) -> dict[str, Any]:
    return {kind: dict(values) for kind, values in settings.resources.items()}


def init_container(config: InjectConfig, settings: Settings) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": mesh.INIT_CONTAINER,
        "image": config.init_image,
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
    document: dict[str, Any] = {
        "statusPort": settings.status_port,
        "terminationDrainDuration": settings.drain_duration,
        "holdApplicationUntilProxyStarts": settings.hold_application,
    }
    if settings.concurrency is not None:
        document["concurrency"] = settings.concurrency
    return encoding.compact(document)


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
    if settings.interception_mode == "TPROXY":
        # Transparent sockets need NET_ADMIN, and so root; iptables still exempts gid 1337.
        context = container["securityContext"]
        context.update(capabilities={"add": ["NET_ADMIN"], "drop": ["ALL"]}, runAsNonRoot=False)
        context["runAsUser"] = 0
    if settings.native:
        container["restartPolicy"] = "Always"
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
