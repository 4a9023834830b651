"""End to end: a pod injected by our injector, run in network namespaces with real iptables,
the real agent and Envoy as uid 1337, and a real app; traffic from a second namespace."""

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dataplane.podsim import PodSim, pod_simulation, require_root_and_tools, run
from tests.dataplane.sidecar import envoy_binary, wait_for
from webhooks import mesh
from webhooks.inject.config import default_config
from webhooks.inject.pod import inject_pod

pytestmark = pytest.mark.netns

APP_PORT, TCP_PORT, PEER_PORT = 8080, 9000, 9090

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "web-0",
        "namespace": "shop",
        "labels": {"app": "web"},
        "annotations": {"prometheus.io/port": str(APP_PORT), "prometheus.io/path": "/metrics"},
    },
    "spec": {
        "containers": [
            {
                "name": "app",
                "image": "example/app",
                "ports": [{"containerPort": APP_PORT, "name": "http"}],
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                "livenessProbe": {"tcpSocket": {"port": APP_PORT}},
            }
        ]
    },
}

HTTP_GET = """
import http.client, sys
method, host, port, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = http.client.HTTPConnection(host, port, timeout=10)
c.request(method, path)
r = c.getresponse()
print(r.status)
print(r.read().decode())
"""

TCP_ECHO = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10) as s:
    s.sendall(b"raw-tcp\\n")
    print(s.recv(100).decode())
"""


def injected() -> tuple[list[str], dict[str, str]]:
    """The init container's args and the proxy's env, as our injector writes them."""
    pod = inject_pod(json.loads(json.dumps(POD)), default_config(), native=False).pod
    containers = pod["spec"].get("initContainers", []) + pod["spec"]["containers"]
    init = next(c for c in containers if c["name"] == mesh.INIT_CONTAINER)
    proxy = next(c for c in containers if c["name"] == mesh.PROXY_CONTAINER)
    env = {e["name"]: e["value"] for e in proxy["env"] if "value" in e}
    return list(init["args"]), env


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[PodSim, Path]]:
    require_root_and_tools()
    probe = run(
        ["setpriv", "--reuid=1337", "--regid=1337", "--clear-groups",
         sys.executable, "-c", "import webhooks"], check=False,
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.fail(f"uid 1337 cannot run {sys.executable}: {probe.stderr.strip()}")
    init_args, proxy_env = injected()
    with pod_simulation() as sim:
        init = ["env", "KUBERNETES_SERVICE_HOST=10.96.0.1"]  # the kubelet sets it in a pod
        applied = run(sim.in_pod(*init, sys.executable, "-m", "webhooks", "iptables", *init_args))
        assert applied.returncode == 0, applied.stderr
        proxy_dir = sim.workdir / "proxy"
        proxy_dir.mkdir()
        os.chown(proxy_dir, mesh.PROXY_UID, mesh.PROXY_GID)
        pod_env = {
            **proxy_env,
            mesh.POD_NAME_ENV: "web-0",
            mesh.POD_NAMESPACE_ENV: "shop",
            mesh.INSTANCE_IP_ENV: sim.pod_ip,
        }
        sim.start(
            sim.in_peer(
                sys.executable,
                "-m",
                "tests.dataplane.app",
                "--host",
                sim.peer_ip,
                "--http",
                str(PEER_PORT),
            ),
            "peer.log",
        )
        sim.start(
            sim.in_pod(
                sys.executable,
                "-m",
                "tests.dataplane.app",
                "--http",
                str(APP_PORT),
                "--tcp",
                str(TCP_PORT),
            ),
            "app.log",
        )
        agent = sim.as_proxy(
            sys.executable, "-m", "webhooks", "agent", "--envoy-binary", envoy_binary(),
            "--workdir", str(proxy_dir), "--podinfo-dir", str(sim.workdir / "pod"),
            "--bootstrap-dir", str(sim.workdir / "bootstrap"), "--concurrency", "1",
        )  # fmt: skip
        sim.start(agent, "agent.log", pod_env)
        try:
            wait_for(lambda: get(sim, mesh.HEALTH_PORT, "/healthz/ready")[0] == 200, 30, "proxy")
            wait_for(lambda: get(sim, APP_PORT, "/healthz")[0] == 200, 15, "app via sidecar")
        except AssertionError as error:
            logs = {n: (sim.workdir / n).read_text()[-3000:] for n in ("agent.log", "app.log")}
            raise AssertionError(f"{error}: {logs}") from None
        yield sim, sim.workdir / "agent.log"


def get(sim: PodSim, port: int, path: str, method: str = "GET") -> tuple[int, str]:
    out = sim.peer_python(HTTP_GET, method, sim.pod_ip, str(port), path)
    status, _, body = out.partition("\n")
    return int(status), body


def access_log(log: Path, direction: str) -> list[dict[str, Any]]:
    entries = []
    for line in log.read_text().splitlines():
        if line.startswith("{") and f'"direction":"{direction}"' in line:
            entries.append(json.loads(line))
    return entries


def wait_for_access_log(log: Path, direction: str, **fields: str) -> None:
    """Wait until Envoy has written an access-log entry in `direction` with all `fields`."""

    def logged() -> bool:
        entries = access_log(log, direction)
        return any(all(e.get(k) == v for k, v in fields.items()) for e in entries)

    wait_for(logged, 10, f"an {direction} access log entry with {fields}")


def test_app_answers_through_the_sidecar(sim: tuple[PodSim, Path]) -> None:
    pod, log = sim
    status, body = get(pod, APP_PORT, "/hello")
    assert status == 200
    assert json.loads(body)["peer"] == mesh.INBOUND_PASSTHROUGH_IP  # Envoy forwarded it
    wait_for_access_log(log, "inbound", path="/hello", original_dst=f"{pod.pod_ip}:{APP_PORT}")


def test_raw_tcp_goes_through_the_tcp_proxy(sim: tuple[PodSim, Path]) -> None:
    pod, log = sim
    assert pod.peer_python(TCP_ECHO, pod.pod_ip, str(TCP_PORT)).strip() == "echo:raw-tcp"
    wait_for_access_log(log, "inbound", protocol="tcp", original_dst=f"{pod.pod_ip}:{TCP_PORT}")


def test_outbound_calls_go_through_15001(sim: tuple[PodSim, Path]) -> None:
    pod, log = sim
    target = f"http://{pod.peer_ip}:{PEER_PORT}/from-pod"
    status, body = get(pod, APP_PORT, f"/call?url={target}")
    assert status == 200
    assert json.loads(body)["path"] == "/from-pod"
    wait_for_access_log(
        log, "outbound", path="/from-pod", upstream_host=f"{pod.peer_ip}:{PEER_PORT}"
    )


def test_kubelet_probes_follow_the_app(sim: tuple[PodSim, Path]) -> None:
    pod, _ = sim
    readyz = "/app-health/app/readyz"
    assert get(pod, mesh.STATUS_PORT, readyz)[0] == 200
    assert get(pod, mesh.STATUS_PORT, "/app-health/app/livez")[0] == 200
    get(pod, APP_PORT, "/sick", method="POST")
    try:
        assert get(pod, mesh.STATUS_PORT, readyz)[0] == 500
        assert get(pod, mesh.STATUS_PORT, "/app-health/app/livez")[0] == 200  # tcp still open
    finally:
        get(pod, APP_PORT, "/well", method="POST")
    assert get(pod, mesh.STATUS_PORT, readyz)[0] == 200
    assert get(pod, mesh.STATUS_PORT, "/app-health/other/readyz")[0] == 400


def test_drain_and_quit_are_refused_from_another_pod(sim: tuple[PodSim, Path]) -> None:
    pod, _ = sim
    for path in ("/drain", "/quitquitquit"):
        status, body = get(pod, mesh.STATUS_PORT, path, method="POST")
        assert (status, body.strip()) == (403, "only from localhost")
    assert get(pod, mesh.HEALTH_PORT, "/healthz/ready")[0] == 200  # still serving, not draining


def test_merged_metrics_from_outside(sim: tuple[PodSim, Path]) -> None:
    pod, _ = sim
    status, body = get(pod, mesh.STATUS_PORT, mesh.PROMETHEUS_MERGED_PATH)
    assert status == 200
    assert body.index("mesh_agent_scrapes_total") < body.index("envoy_server_live")
    assert body.index("envoy_server_live") < body.index("app_hits_total")
