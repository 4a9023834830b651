"""On a real cluster only (e2e/kind/run.sh): injected pods run, become ready and carry traffic.

Not collected by `pytest e2e` (no test_ prefix): only run.sh names this file, with E2E_KUBECONFIG.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e import mesh
from e2e.conftest import EXISTING_CLUSTER
from e2e.kubectl import Kubectl
from e2e.polling import wait_for

pytestmark = pytest.mark.e2e

APP_POD = Path(__file__).parents[1] / "manifests" / "app-pod.yaml"
READY_TIMEOUT = "300s"


@pytest.fixture(scope="module")
def namespace(kubectl: Kubectl, mesh_server: mesh.MeshServer | None) -> str:
    if not EXISTING_CLUSTER:
        pytest.fail("running_pods.py needs a cluster with nodes: set E2E_KUBECONFIG (run.sh)")
    return mesh.unique_namespace(kubectl, "running", {"istio-injection": "enabled"})


def test_injected_pods_become_ready_through_the_agent(kubectl: Kubectl, namespace: str) -> None:
    client = APP_POD.read_text().replace("  name: app\n", "  name: client\n", 1)
    kubectl("apply", f"--namespace={namespace}", "-f", str(APP_POD), check=True)
    kubectl("apply", f"--namespace={namespace}", "-f", "-", input=client, check=True)

    kubectl(
        "wait", "--for=condition=Ready", "pod/app", "pod/client", f"--namespace={namespace}",
        f"--timeout={READY_TIMEOUT}", check=True, timeout=360,
    )  # fmt: skip

    pod = kubectl.get_json("pod", "app", f"--namespace={namespace}")
    statuses = pod["status"]["initContainerStatuses"] + pod["status"]["containerStatuses"]
    by_name = {status["name"]: status for status in statuses}
    assert by_name["istio-init"]["state"]["terminated"]["exitCode"] == 0
    assert by_name["istio-proxy"]["ready"] is True  # its startup probe on 15021 passed
    # the app's readiness probe is served by the agent on 15020 and passed
    assert by_name["web"]["ready"] is True


def test_traffic_between_pods_goes_through_envoy(kubectl: Kubectl, namespace: str) -> None:
    """client -> app: out through the client's Envoy (15001), in through the app's (15006)."""
    app = kubectl.get_json("pod", "app", f"--namespace={namespace}")
    target = f"{app['status']['podIP']}:8080"

    result = kubectl(
        "exec", "client", f"--namespace={namespace}", "-c", "web", "--",
        "/agnhost", "connect", target, "--timeout=5s", timeout=30,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    # Envoy writes a TCP access log line when the connection closes, and flushes it each second.
    wait_for(
        lambda: proxy_logged(kubectl, namespace, "app", "inbound"),
        timeout=15,
        description="an inbound access log line from the app's istio-proxy",
    )
    wait_for(
        lambda: proxy_logged(kubectl, namespace, "client", "outbound"),
        timeout=15,
        description="an outbound access log line from the client's istio-proxy",
    )


def proxy_logged(kubectl: Kubectl, namespace: str, pod: str, direction: str) -> bool:
    logs = kubectl("logs", pod, f"--namespace={namespace}", "-c", "istio-proxy", check=True)
    return f'"direction":"{direction}"' in logs.stdout.replace(" ", "")
