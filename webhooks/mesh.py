"""The contract the cluster sees, shared by the injector, the agent and the chart.

Ports, user ids, container, volume and env names, and the probe URL scheme are Istio's, so that
pods, dashboards and scripts written for Istio keep working.
"""

import re
from typing import Final, Literal

# Ports (Istio's numbers).
ENVOY_ADMIN_PORT: Final = 15000
OUTBOUND_CAPTURE_PORT: Final = 15001
INBOUND_CAPTURE_PORT: Final = 15006
STATUS_PORT: Final = 15020  # the agent: app probes, merged metrics
HEALTH_PORT: Final = 15021  # Envoy's health listener, /healthz/ready
ENVOY_PROMETHEUS_PORT: Final = 15090
RESERVED_PORTS: Final = frozenset(
    {
        ENVOY_ADMIN_PORT,
        OUTBOUND_CAPTURE_PORT,
        INBOUND_CAPTURE_PORT,
        STATUS_PORT,
        HEALTH_PORT,
        ENVOY_PROMETHEUS_PORT,
    }
)

PROXY_UID: Final = 1337
PROXY_GID: Final = 1337
INBOUND_PASSTHROUGH_IP: Final = "127.0.0.6"  # source of agent probes and inbound forwarding

# Containers.
PROXY_CONTAINER: Final = "istio-proxy"
INIT_CONTAINER: Final = "istio-init"

# Env vars the injector writes and the agent reads.
APP_PROBERS_ENV: Final = "ISTIO_KUBE_APP_PROBERS"
PROMETHEUS_ANNOTATIONS_ENV: Final = "ISTIO_PROMETHEUS_ANNOTATIONS"

# Labels and annotations.
INJECTION_NAMESPACE_LABEL: Final = "istio-injection"
REVISION_LABEL: Final = "istio.io/rev"
INJECT_LABEL: Final = "sidecar.istio.io/inject"
STATUS_ANNOTATION: Final = "sidecar.istio.io/status"
TLS_MODE_LABEL: Final = "security.istio.io/tlsMode"

# Probe URLs on the status port: /app-health/<container>/<probe>, /app-lifecycle/<container>/<hook>.
ProbeKind = Literal["readyz", "livez", "startupz"]
LifecycleKind = Literal["prestopz", "poststartz"]
PROBE_PATH_PATTERN: Final = re.compile(
    r"^/(app-health|app-lifecycle)/[^/]+/(livez|readyz|startupz|prestopz|poststartz)$"
)


def app_probe_path(container: str, kind: ProbeKind) -> str:
    return f"/app-health/{container}/{kind}"


def app_lifecycle_path(container: str, kind: LifecycleKind) -> str:
    return f"/app-lifecycle/{container}/{kind}"
