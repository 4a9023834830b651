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

# Env of the istio-proxy container: the injector writes it, the agent reads it.
# The pod's identity comes from the downward API.
POD_NAME_ENV: Final = "POD_NAME"  # metadata.name
POD_NAMESPACE_ENV: Final = "POD_NAMESPACE"  # metadata.namespace
INSTANCE_IP_ENV: Final = "INSTANCE_IP"  # status.podIP
SERVICE_ACCOUNT_ENV: Final = "SERVICE_ACCOUNT"  # spec.serviceAccountName
NODE_NAME_ENV: Final = "NODE_NAME"  # spec.nodeName
APP_PROBERS_ENV: Final = "ISTIO_KUBE_APP_PROBERS"  # JSON: status-port path -> the app's probe
PROMETHEUS_ANNOTATIONS_ENV: Final = "ISTIO_PROMETHEUS_ANNOTATIONS"  # JSON: the app's scrape
PROXY_CONFIG_ENV: Final = "PROXY_CONFIG"  # JSON: statusPort, concurrency, terminationDrainDuration…
PROXY_LOG_LEVEL_ENV: Final = "PROXY_LOG_LEVEL"  # Envoy's -l
PROXY_COMPONENT_LOG_LEVEL_ENV: Final = "PROXY_COMPONENT_LOG_LEVEL"  # Envoy's --component-log-level

# Volumes of an injected pod and where the proxy mounts them.
ENVOY_VOLUME: Final = "istio-envoy"  # Memory emptyDir: the rendered bootstrap, Envoy's files
ENVOY_DIR: Final = "/etc/istio/proxy"
PODINFO_VOLUME: Final = "istio-podinfo"  # downward API: files "labels" and "annotations"
PODINFO_DIR: Final = "/etc/istio/pod"
BOOTSTRAP_VOLUME: Final = "istio-bootstrap"  # the bootstrap ConfigMap, read-only
BOOTSTRAP_DIR: Final = "/etc/istio/bootstrap"
DEFAULT_BOOTSTRAP_CONFIGMAP: Final = "mesh-webhooks-bootstrap"

# Labels and annotations the injector writes or reads.
INJECTION_NAMESPACE_LABEL: Final = "istio-injection"
REVISION_LABEL: Final = "istio.io/rev"
DEFAULT_REVISION: Final = "default"  # the value of REVISION_LABEL for the revision ""
INJECT_LABEL: Final = "sidecar.istio.io/inject"
INJECT_ANNOTATION: Final = "sidecar.istio.io/inject"  # deprecated: the label wins
STATUS_ANNOTATION: Final = "sidecar.istio.io/status"
TLS_MODE_LABEL: Final = "security.istio.io/tlsMode"
CANONICAL_NAME_LABEL: Final = "service.istio.io/canonical-name"
CANONICAL_REVISION_LABEL: Final = "service.istio.io/canonical-revision"
DEFAULT_CONTAINER_ANNOTATION: Final = "kubectl.kubernetes.io/default-container"
DEFAULT_LOGS_CONTAINER_ANNOTATION: Final = "kubectl.kubernetes.io/default-logs-container"

# Labels that name a workload, most specific first (Istio's canonical-name derivation); the
# injector's canonical-name label and the agent's bootstrap cluster name both follow it.
WORKLOAD_NAME_LABELS: Final = (CANONICAL_NAME_LABEL, "app.kubernetes.io/name", "app")

# Validation and the certificates' self-test: the validating webhook denies any object carrying
# this annotation, so a dry-run create of one proves the apiserver reaches the webhook.
ALWAYS_REJECT_ANNOTATION: Final = "internal.istio.io/webhook-always-reject"

# URLs on the status port: the merged metrics, /app-health/<container>/<probe> and
# /app-lifecycle/<container>/<hook>.
PROMETHEUS_MERGED_PATH: Final = "/stats/prometheus"
ProbeKind = Literal["readyz", "livez", "startupz"]
LifecycleKind = Literal["prestopz", "poststartz"]
PROBE_PATH_PATTERN: Final = re.compile(
    r"^/app-health/[^/]+/(livez|readyz|startupz)$|^/app-lifecycle/[^/]+/(prestopz|poststartz)$"
)
# The actions an ISTIO_KUBE_APP_PROBERS entry holds: what the injector moves there, the agent runs.
ProbeAction = Literal["httpGet", "tcpSocket", "grpc"]
PROBE_ACTIONS: Final[tuple[ProbeAction, ...]] = ("httpGet", "tcpSocket", "grpc")


def app_probe_path(container: str, kind: ProbeKind) -> str:
    return f"/app-health/{container}/{kind}"


def app_lifecycle_path(container: str, kind: LifecycleKind) -> str:
    return f"/app-lifecycle/{container}/{kind}"
