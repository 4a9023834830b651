"""The real agent and the real Envoy against a real local app: probes, metrics, drain, exit."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dataplane import app as testapp
from tests.dataplane.sidecar import ROOT, RunningAgent, http_get, running_agent, wait_for
from tests.servers import free_port
from webhooks import mesh
from webhooks.certs import issuing


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    certs = tmp_path_factory.mktemp("certs")
    pair = issuing.issue_serving_cert(issuing.create_ca("test CA"), ["127.0.0.1"])
    (certs / "tls.crt").write_bytes(pair.cert_pem)
    (certs / "tls.key").write_bytes(pair.key_pem)
    state = testapp.AppState()
    web = testapp.AppHTTPServer(("127.0.0.1", 0), state)
    tls = testapp.https_server("127.0.0.1", 0, state, certs / "tls.crt", certs / "tls.key")
    grpc_port = free_port()
    grpc_server = testapp.start_grpc_health("127.0.0.1", grpc_port)
    stalled, fillers = testapp.stalled_listener("127.0.0.1")
    with testapp.serving(web), testapp.serving(tls):
        yield {
            "state": state,
            "http": web.server_address[1],
            "https": tls.server_address[1],
            "grpc": grpc_port,
            "stalled": stalled.getsockname()[1],
            "closed": free_port(),
        }
    grpc_server.stop(0)
    for sock in [stalled, *fillers]:
        sock.close()


def probers(ports: dict[str, Any]) -> dict[str, Any]:
    def http(port: int, path: str, **more: Any) -> dict[str, Any]:
        return {"httpGet": {"path": path, "port": port, **more}, "timeoutSeconds": 1}

    return {
        "/app-health/web/readyz": http(ports["http"], "/healthz"),
        "/app-health/web/livez": http(ports["http"], "/fail"),
        "/app-health/web/startupz": http(ports["http"], "/slow?seconds=3"),
        "/app-health/tls/readyz": http(ports["https"], "/healthz", scheme="HTTPS"),
        "/app-health/redirect/readyz": http(ports["http"], "/redirect"),
        "/app-lifecycle/web/prestopz": http(ports["http"], "/healthz"),
        "/app-health/tcp/readyz": {"tcpSocket": {"port": ports["http"]}},
        "/app-health/tcp/livez": {"tcpSocket": {"port": ports["closed"]}},
        "/app-health/tcp/startupz": {"tcpSocket": {"port": ports["stalled"]}, "timeoutSeconds": 1},
        "/app-health/grpc/readyz": {"grpc": {"port": ports["grpc"], "service": None}},
        "/app-health/grpc/livez": {"grpc": {"port": ports["grpc"], "service": "down"}},
        "/app-health/grpc/startupz": {
            "grpc": {"port": ports["grpc"], "service": "slow"},
            "timeoutSeconds": 1,
        },
    }


def pod_env(
    probes: dict[str, Any],
    metrics: dict[str, str] | None = None,
    proxy_config: dict[str, Any] | None = None,
) -> dict[str, str]:
    env = {
        mesh.POD_NAME_ENV: "web-0",
        mesh.POD_NAMESPACE_ENV: "shop",
        mesh.INSTANCE_IP_ENV: "127.0.0.1",
        mesh.APP_PROBERS_ENV: json.dumps(probes),
    }
    if metrics is not None:
        env[mesh.PROMETHEUS_ANNOTATIONS_ENV] = json.dumps(metrics)
    if proxy_config is not None:
        env[mesh.PROXY_CONFIG_ENV] = json.dumps(proxy_config)
    return env


@pytest.fixture(scope="module")
def sidecar(
    apps: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningAgent]:
    metrics = {"scrape": "true", "port": str(apps["http"]), "path": "/metrics"}
    workdir = tmp_path_factory.mktemp("agent")
    with running_agent(workdir, pod_env(probers(apps), metrics)) as agent:
        agent.wait_ready()
        yield agent


@pytest.mark.parametrize(
    ("path", "status", "body_part", "min_seconds"),
    [
        ("/app-health/web/readyz", 200, b"ok", 0),
        ("/app-health/web/livez", 500, b"failing on purpose", 0),
        ("/app-health/web/startupz", 500, b"timed out after 1s", 0.9),
        ("/app-health/tls/readyz", 200, b"ok", 0),
        ("/app-health/redirect/readyz", 200, b"", 0),
        ("/app-lifecycle/web/prestopz", 200, b"ok", 0),
        ("/app-health/tcp/readyz", 200, b"", 0),
        ("/app-health/tcp/livez", 500, b"Connect call failed", 0),
        ("/app-health/tcp/startupz", 500, b"timed out after 1s", 0.9),
        ("/app-health/grpc/readyz", 200, b"", 0),
        ("/app-health/grpc/livez", 500, b"NOT_SERVING", 0),
        ("/app-health/grpc/startupz", 500, b"", 0.9),
        ("/app-health/nobody/readyz", 400, b"app prober config does not exist for", 0),
    ],
)
def test_app_probe(
    sidecar: RunningAgent, path: str, status: int, body_part: bytes, min_seconds: float
) -> None:
    started = time.monotonic()
    got_status, body = sidecar.get(mesh.STATUS_PORT, path)
    elapsed = time.monotonic() - started
    assert (got_status, body_part in body) == (status, True), body
    assert min_seconds <= elapsed < min_seconds + 1.5


def test_http_probes_come_from_the_passthrough_address(
    sidecar: RunningAgent, apps: dict[str, Any]
) -> None:
    apps["state"].probe_peers.clear()
    assert sidecar.get(mesh.STATUS_PORT, "/app-health/web/readyz")[0] == 200
    assert apps["state"].probe_peers == [mesh.INBOUND_PASSTHROUGH_IP]


def test_readiness_through_envoy_and_agent(sidecar: RunningAgent) -> None:
    assert sidecar.get(mesh.HEALTH_PORT, "/healthz/ready")[0] == 200
    assert sidecar.get(mesh.STATUS_PORT, "/healthz/ready")[0] == 200
    assert sidecar.get(mesh.HEALTH_PORT, "/ready")[0] == 200  # Envoy's own health_check filter


def test_merged_metrics_are_agent_then_envoy_then_app(sidecar: RunningAgent) -> None:
    status, body = sidecar.get(mesh.STATUS_PORT, "/stats/prometheus")
    text = body.decode()
    assert status == 200
    agent_at = text.index('mesh_agent_scrapes_total{source="envoy"}')
    envoy_at = text.index('envoy_server_live{mesh_workload="web-0"} 1')
    app_at = text.index("app_hits_total ")
    assert agent_at < envoy_at < app_at
    assert 'mesh_agent_scrape_failures_total{source="app"} 0' in text


def test_envoy_prometheus_port_serves_stats_only(sidecar: RunningAgent) -> None:
    assert sidecar.get(mesh.ENVOY_PROMETHEUS_PORT, "/stats/prometheus")[0] == 200
    assert sidecar.get(mesh.ENVOY_PROMETHEUS_PORT, "/config_dump")[0] == 404


def test_drain_and_quit_only_from_localhost_by_post(sidecar: RunningAgent) -> None:
    assert sidecar.get(mesh.STATUS_PORT, "/quitquitquit")[0] == 405
    assert sidecar.get(mesh.STATUS_PORT, "/nothing-here")[0] == 404


def test_failed_app_scrape_is_counted_not_fatal(tmp_path: Path, apps: dict[str, Any]) -> None:
    metrics = {"scrape": "true", "port": str(apps["closed"]), "path": "/metrics"}
    with running_agent(tmp_path, pod_env({}, metrics)) as agent:
        agent.wait_ready()
        for expected in (1, 2):
            status, body = agent.get(mesh.STATUS_PORT, "/metrics")
            assert status == 200
            assert f'mesh_agent_scrape_failures_total{{source="app"}} {expected}' in body.decode()
            assert "envoy_server_live" in body.decode()


MOVED_STATUS_PORT = 15555  # status.sidecar.istio.io/port: 15555


@pytest.fixture(scope="module")
def moved_sidecar(
    apps: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningAgent]:
    """A sidecar whose PROXY_CONFIG (as the injector writes it) moves the status port and asks
    for Envoy's own concurrency; no flag overrides either."""
    config = {"statusPort": MOVED_STATUS_PORT, "terminationDrainDuration": "2s", "concurrency": 0}
    metrics = {"scrape": "true", "port": str(apps["http"]), "path": "/metrics"}
    env = pod_env(probers(apps), metrics, config)
    workdir = tmp_path_factory.mktemp("moved")
    with running_agent(workdir, env, status_port=MOVED_STATUS_PORT, concurrency=None) as agent:
        agent.wait_ready()  # /healthz/ready through Envoy's 15021, which must find the agent
        yield agent


def test_moved_status_port_serves_probes_and_readiness(moved_sidecar: RunningAgent) -> None:
    assert moved_sidecar.get(MOVED_STATUS_PORT, "/app-health/web/readyz") == (200, b"ok\n")
    assert moved_sidecar.get(MOVED_STATUS_PORT, "/app-health/web/livez")[0] == 500
    assert moved_sidecar.get(MOVED_STATUS_PORT, "/app-health/tcp/readyz")[0] == 200
    assert moved_sidecar.get(MOVED_STATUS_PORT, "/healthz/ready")[0] == 200
    assert moved_sidecar.get(mesh.HEALTH_PORT, "/healthz/ready")[0] == 200
    with pytest.raises(ConnectionRefusedError):
        moved_sidecar.get(mesh.STATUS_PORT, "/healthz/ready")


def test_moved_status_port_serves_merged_metrics(moved_sidecar: RunningAgent) -> None:
    status, body = moved_sidecar.get(MOVED_STATUS_PORT, mesh.PROMETHEUS_MERGED_PATH)
    text = body.decode()
    assert status == 200
    assert 'mesh_agent_scrape_failures_total{source="envoy"} 0' in text
    assert 'envoy_server_live{mesh_workload="web-0"} 1' in text
    assert "app_hits_total " in text


def test_moved_status_port_is_in_the_rendered_bootstrap(moved_sidecar: RunningAgent) -> None:
    status, body = moved_sidecar.get(mesh.ENVOY_ADMIN_PORT, "/clusters?format=json")
    assert status == 200
    (agent,) = [c for c in json.loads(body)["cluster_statuses"] if c["name"] == "agent"]
    ports = [h["address"]["socket_address"]["port_value"] for h in agent["host_statuses"]]
    assert ports == [moved_sidecar.port(MOVED_STATUS_PORT)]


def test_concurrency_zero_runs_a_worker_per_core(moved_sidecar: RunningAgent) -> None:
    status, body = moved_sidecar.get(mesh.ENVOY_ADMIN_PORT, "/server_info")
    assert status == 200
    assert json.loads(body)["command_line_options"]["concurrency"] == os.cpu_count()


def inbound_overlay(listen_port: int, app_port: int) -> str:
    """An extra INBOUND listener to the app: loopback has no SO_ORIGINAL_DST to follow."""
    return json.dumps(
        {
            "static_resources": {
                "listeners": [
                    {
                        "name": "test_inbound",
                        "address": _address(listen_port),
                        "traffic_direction": "INBOUND",
                        "filter_chains": [{"filters": [_hcm("test_app")]}],
                    }
                ],
                "clusters": [
                    {
                        "name": "test_app",
                        "type": "STATIC",
                        "connect_timeout": "1s",
                        "load_assignment": {
                            "cluster_name": "test_app",
                            "endpoints": [
                                {"lb_endpoints": [{"endpoint": {"address": _address(app_port)}}]}
                            ],
                        },
                    }
                ],
            }
        }
    )


def _address(port: int) -> dict[str, Any]:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def _hcm(cluster: str) -> dict[str, Any]:
    return {
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network"
            ".http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": "test_inbound",
            "route_config": {
                "virtual_hosts": [
                    {
                        "name": "all",
                        "domains": ["*"],
                        "routes": [{"match": {"prefix": "/"}, "route": {"cluster": cluster}}],
                    }
                ]
            },
            "http_filters": [
                {
                    "name": "envoy.filters.http.router",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.http"
                        ".router.v3.Router"
                    },
                }
            ],
        },
    }


def test_sigterm_drains_with_in_flight_requests_completing(
    tmp_path: Path, apps: dict[str, Any]
) -> None:
    inbound = free_port()
    overlay = tmp_path / "overlay.json"
    overlay.write_text(inbound_overlay(inbound, apps["http"]))
    extra = ["--config-yaml-file", str(overlay)]
    with running_agent(tmp_path, pod_env({}), extra, drain="2s") as agent:
        agent.wait_ready()
        assert http_get(inbound, "/hello")[0] == 200
        in_flight: list[tuple[int, bytes]] = []
        slow = threading.Thread(
            target=lambda: in_flight.append(http_get(inbound, "/slow?seconds=1.5"))
        )
        slow.start()
        time.sleep(0.3)
        signalled = time.monotonic()
        agent.process.terminate()
        wait_for(lambda: agent.get(mesh.HEALTH_PORT, "/healthz/ready")[0] == 503, 2, "503 draining")
        slow.join(timeout=10)
        assert in_flight == [(200, b"slow done\n")]
        assert agent.process.wait(timeout=10) == 0
        elapsed = time.monotonic() - signalled
    assert 1.9 <= elapsed < 6, elapsed
    assert "/drain_listeners?inboundonly&graceful" in agent.logs()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", inbound), timeout=1).close()


def test_agent_exits_non_zero_with_envoy_log_when_envoy_dies(tmp_path: Path) -> None:
    (tmp_path / "bootstrap").mkdir()
    broken = {"static_resources": {"clusters": [{"name": "x", "type": "NO_SUCH_TYPE"}]}}
    (tmp_path / "bootstrap" / "bootstrap.yaml").write_text(json.dumps(broken))
    with running_agent(tmp_path, pod_env({})) as agent:
        code = agent.process.wait(timeout=20)
    assert code != 0
    logs = agent.logs()
    assert "envoy exited on its own" in logs
    assert "NO_SUCH_TYPE" in logs.split("envoy exited on its own", 1)[1]


def test_agent_wait_returns_when_ready_and_fails_after_timeout(sidecar: RunningAgent) -> None:
    wait = [sys.executable, "-m", "webhooks", "agent", "wait", "--timeout"]
    ready = subprocess.run(
        [*wait, "20", "--port-offset", str(sidecar.offset)], cwd=ROOT, capture_output=True
    )
    assert ready.returncode == 0, ready.stderr
    unready = subprocess.run(
        [*wait, "1", "--port-offset", str(sidecar.offset + 7)], cwd=ROOT, capture_output=True
    )
    assert unready.returncode == 1
    assert b"proxy not ready after 1s" in unready.stderr


def test_agent_drain_starts_the_drain_that_sigterm_then_only_finishes(tmp_path: Path) -> None:
    """A native sidecar's preStop hook: `agent drain` fails health and drains Envoy at once; the
    SIGTERM that follows once the app has exited waits only what is left of the drain time."""
    drain = [sys.executable, "-m", "webhooks", "agent", "drain", "--port-offset"]
    with running_agent(tmp_path, pod_env({}), drain="2s") as agent:
        agent.wait_ready()
        started = subprocess.run([*drain, str(agent.offset)], cwd=ROOT, capture_output=True)
        assert started.returncode == 0, started.stderr
        assert agent.get(mesh.HEALTH_PORT, "/healthz/ready")[0] == 503
        assert agent.process.poll() is None  # draining, still running
        time.sleep(2.2)  # the app shutting down meanwhile, past the drain time
        # inbound still accepts: the app may serve longer than the drain (skip_exit)
        inbound = ("127.0.0.1", agent.port(mesh.INBOUND_CAPTURE_PORT))
        with socket.create_connection(inbound, timeout=2):
            pass
        signalled = time.monotonic()
        agent.process.terminate()
        assert agent.process.wait(timeout=10) == 0
        elapsed = time.monotonic() - signalled
    assert elapsed < 1.5, elapsed  # not another 2 s
    assert "/drain_listeners?inboundonly&graceful" in agent.logs()
    absent = subprocess.run([*drain, str(agent.offset)], cwd=ROOT, capture_output=True)
    assert absent.returncode == 1
    assert b"mesh-webhooks agent drain: cannot start the drain (http://127.0.0.1:" in absent.stderr
    assert len(absent.stderr.splitlines()) == 1


def _child_pids(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process is gone
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _log_record(logs: str, message: str) -> dict[str, Any]:
    for line in logs.splitlines():
        record: dict[str, Any] = json.loads(line) if line.startswith("{") else {}
        if record.get("msg") == message:
            return record
    raise AssertionError(f"no {message!r} log line in:\n{logs}")


def test_envoy_dying_during_the_drain_ends_the_agent_with_its_log(tmp_path: Path) -> None:
    extra = ["--proxy-log-level", "info"]  # so that Envoy has last lines to report
    with running_agent(tmp_path, pod_env({}), extra, drain="60s") as agent:
        agent.wait_ready()
        (envoy_pid,) = _child_pids(agent.process.pid)
        agent.process.terminate()
        wait_for(lambda: agent.get(mesh.HEALTH_PORT, "/healthz/ready")[0] == 503, 5, "draining")
        killed = time.monotonic()
        os.kill(envoy_pid, signal.SIGKILL)
        code = agent.process.wait(timeout=10)
        elapsed = time.monotonic() - killed
    assert code == 128 + signal.SIGKILL
    assert elapsed < 3, elapsed  # not the 60 s drain
    record = _log_record(agent.logs(), "envoy exited on its own")
    assert record["envoy_exit"] == -signal.SIGKILL
    assert record["draining"] is True
    assert any("starting main dispatch loop" in line for line in record["envoy_log_tail"])


def test_a_zero_drain_stops_at_once(tmp_path: Path) -> None:
    with running_agent(tmp_path, pod_env({}), drain="0s") as agent:
        agent.wait_ready()
        status, body = agent.get(mesh.ENVOY_ADMIN_PORT, "/server_info")
        assert status == 200
        assert json.loads(body)["command_line_options"]["drain_time"] == "0s"
        signalled = time.monotonic()
        agent.process.terminate()
        assert agent.process.wait(timeout=10) == 0
        elapsed = time.monotonic() - signalled
    assert elapsed < 1.5, elapsed
    assert "/drain_listeners?inboundonly&graceful" in agent.logs()
