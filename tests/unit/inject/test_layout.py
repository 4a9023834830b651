"""Where the user's own native sidecars and a bad status record leave the pod."""

import json
from typing import Any

import pytest

from tests.unit.inject.factories import pod, proxy_container
from webhooks import mesh
from webhooks.inject.annotations import InjectionError
from webhooks.inject.config import InjectConfig
from webhooks.inject.pod import inject_pod

NATIVE_SIDECAR = {
    "name": "log-shipper",
    "image": "shipper",
    "restartPolicy": "Always",
    "startupProbe": {"httpGet": {"path": "/up", "port": 8080}},
    "lifecycle": {"postStart": {"httpGet": {"path": "/started", "port": 8080}}},
}


def user_sidecar(result: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in result["spec"]["initContainers"] if c["name"] == "log-shipper")


def probers(result: dict[str, Any]) -> dict[str, Any]:
    proxy = proxy_container(result)
    value = next((e["value"] for e in proxy["env"] if e["name"] == mesh.APP_PROBERS_ENV), "{}")
    decoded: dict[str, Any] = json.loads(value)
    return decoded


def test_classic_layout_leaves_user_native_sidecars_alone() -> None:
    # The agent starts after every init container: a native sidecar's startupProbe or postStart
    # hook pointed at it could never pass, and the pod would never start.
    result = inject_pod(pod(initContainers=[NATIVE_SIDECAR]), InjectConfig(), native=False).pod
    assert user_sidecar(result) == NATIVE_SIDECAR
    assert not any(path.startswith("/app-health/log-shipper/") for path in probers(result))
    assert not any(path.startswith("/app-lifecycle/log-shipper/") for path in probers(result))


def test_native_layout_rewrites_user_native_sidecars() -> None:
    # There the proxy starts before them, so their probes can go through it.
    result = inject_pod(pod(initContainers=[NATIVE_SIDECAR]), InjectConfig(), native=True).pod
    sidecar = user_sidecar(result)
    assert sidecar["startupProbe"]["httpGet"]["port"] == mesh.STATUS_PORT
    assert sidecar["lifecycle"]["postStart"]["httpGet"]["port"] == mesh.STATUS_PORT
    assert {"/app-health/log-shipper/startupz", "/app-lifecycle/log-shipper/poststartz"} <= set(
        probers(result)
    )


@pytest.mark.parametrize("native", [False, True])
@pytest.mark.parametrize("missing", ["istio-proxy", "istio-init"])
def test_a_status_record_that_misses_our_container_is_refused(native: bool, missing: str) -> None:
    once = inject_pod(pod(), InjectConfig(), native).pod
    record = json.loads(once["metadata"]["annotations"][mesh.STATUS_ANNOTATION])
    for field in ("initContainers", "containers"):
        record[field] = [name for name in record[field] or () if name != missing]
    once["metadata"]["annotations"][mesh.STATUS_ANNOTATION] = json.dumps(record)
    with pytest.raises(InjectionError, match=f"named '{missing}'.*does not list"):
        inject_pod(once, InjectConfig(), native)


def test_a_status_record_listing_nothing_is_refused_not_doubled() -> None:
    once = inject_pod(pod(), InjectConfig(), native=False).pod
    once["metadata"]["annotations"][mesh.STATUS_ANNOTATION] = "{}"
    with pytest.raises(InjectionError, match="does not list"):
        inject_pod(once, InjectConfig(), native=False)


@pytest.mark.parametrize(
    ("native", "hold", "lifecycle"),
    [
        # Native: the kubelet runs the preStop hook when the pod starts terminating, long before
        # it stops the sidecar (after the app), so Envoy drains alongside the app.
        (True, False, {"preStop": {"exec": {"command": ["mesh-webhooks", "agent", "drain"]}}}),
        (True, True, {"preStop": {"exec": {"command": ["mesh-webhooks", "agent", "drain"]}}}),
        # Classic: SIGTERM reaches every container at once and drains; hold waits at start.
        (False, False, None),
        (False, True, {"postStart": {"exec": {"command": ["mesh-webhooks", "agent", "wait"]}}}),
    ],
)
def test_the_proxys_lifecycle_hooks(native: bool, hold: bool, lifecycle: Any) -> None:
    config = json.dumps({"holdApplicationUntilProxyStarts": hold})
    result = inject_pod(pod({}, {"proxy.istio.io/config": config}), InjectConfig(), native).pod
    assert proxy_container(result).get("lifecycle") == lifecycle
