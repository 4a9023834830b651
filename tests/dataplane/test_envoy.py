"""The real Envoy accepts the rendered bootstrap (--mode validate) and serves it."""

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dataplane.sidecar import envoy_binary, free_port_offset, http_get, wait_for
from webhooks import mesh
from webhooks.proxy import bootstrap
from webhooks.proxy.bootstrap import PodIdentity

POD = PodIdentity(
    name="web-0", namespace="shop", ip="10.0.0.5", service_account="web", labels={"app": "web"}
)


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(path), "-l", "warning"],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("offset", [0, 1000])
def test_rendered_bootstrap_validates_without_warnings(tmp_path: Path, offset: int) -> None:
    config = bootstrap.render(bootstrap.packaged_template(), POD, offset)
    done = validate(bootstrap.write_rendered(config, tmp_path))
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout
    assert "[warning]" not in done.stderr, done.stderr  # deprecated fields warn


def test_envoy_rejects_a_broken_bootstrap(tmp_path: Path) -> None:
    config = bootstrap.render(bootstrap.packaged_template(), POD)
    config["static_resources"]["clusters"][0]["lb_policy"] = "ORIGINAL_DST_LB"  # a v2 name
    done = validate(bootstrap.write_rendered(config, tmp_path))
    assert done.returncode != 0


@pytest.fixture
def envoy(tmp_path: Path) -> Iterator[int]:
    offset = free_port_offset()
    config = bootstrap.render(bootstrap.packaged_template(), POD, offset)
    path = bootstrap.write_rendered(config, tmp_path)
    command = [envoy_binary(), "-c", str(path), "--disable-hot-restart", "--concurrency", "1"]
    with (tmp_path / "envoy.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log)
    try:
        wait_for(lambda: http_get(mesh.HEALTH_PORT + offset, "/ready")[0] == 200, what="envoy")
        yield offset
    finally:
        process.kill()
        process.wait(timeout=10)


def test_envoy_serves_the_bootstrap(envoy: int) -> None:
    status, body = http_get(mesh.ENVOY_ADMIN_PORT + envoy, "/server_info")
    assert status == 200
    info = json.loads(body)
    assert info["node"]["id"] == "web-0.shop"
    assert info["node"]["cluster"] == "web.shop"
    _, body = http_get(mesh.ENVOY_ADMIN_PORT + envoy, "/listeners?format=json")
    names = {entry["name"] for entry in json.loads(body)["listener_statuses"]}
    assert names == {"prometheus_15090", "health_15021", "virtualInbound", "virtualOutbound"}


def test_prometheus_port_exposes_stats_and_nothing_else(envoy: int) -> None:
    status, body = http_get(mesh.ENVOY_PROMETHEUS_PORT + envoy, "/stats/prometheus?usedonly")
    assert status == 200
    assert b'envoy_server_live{mesh_workload="web"} 1' in body
    assert http_get(mesh.ENVOY_PROMETHEUS_PORT + envoy, "/config_dump")[0] == 404
    assert http_get(mesh.ENVOY_PROMETHEUS_PORT + envoy, "/quitquitquit", method="POST")[0] == 404


def test_health_without_agent_fails_readiness_but_envoy_is_up(envoy: int) -> None:
    assert http_get(mesh.HEALTH_PORT + envoy, "/ready")[0] == 200
    assert http_get(mesh.HEALTH_PORT + envoy, "/healthz/ready")[0] == 503  # no agent behind it


def test_connections_straight_to_the_capture_port_are_black_holed(envoy: int) -> None:
    # Without iptables there is no original destination: the loop guard must catch it.
    with pytest.raises((ConnectionError, TimeoutError)):
        http_get(mesh.INBOUND_CAPTURE_PORT + envoy, "/", timeout=3)
    _, body = http_get(mesh.ENVOY_ADMIN_PORT + envoy, "/stats?filter=BlackHoleCluster")
    assert b"tcp.BlackHoleCluster.downstream_cx_total: 1" in body
