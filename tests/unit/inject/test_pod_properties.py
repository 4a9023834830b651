"""Hypothesis properties of whole-pod injection over generated pods."""

from typing import Any

import jsonpatch
import kubernetes_validate
from hypothesis import given, strategies as st

from webhooks import mesh
from webhooks.inject.config import InjectConfig
from webhooks.inject.patch import make_patch
from webhooks.inject.pod import inject_pod

names = st.sampled_from(["app", "web", "worker", "side"])
ports = st.integers(1, 20000) | st.sampled_from(["http", "grpc", "missing"])
http_get = st.fixed_dictionaries(
    {"port": ports},
    optional={
        "path": st.sampled_from(["/", "/ready"]),
        "scheme": st.sampled_from(["HTTP", "HTTPS"]),
        "host": st.just("10.1.2.3"),
    },
)
actions = st.one_of(
    st.builds(lambda h: {"httpGet": h}, http_get),
    st.builds(lambda p: {"tcpSocket": {"port": p}}, ports),
    st.builds(lambda p: {"grpc": {"port": p}}, st.integers(1, 20000)),
    st.builds(lambda: {"exec": {"command": ["true"]}}),
)
probes = st.builds(
    lambda action, timeout: {**action, **({"timeoutSeconds": timeout} if timeout else {})},
    actions,
    st.integers(0, 5),
)
hooks = st.one_of(
    st.builds(lambda h: {"httpGet": h}, http_get),
    st.builds(lambda p: {"tcpSocket": {"port": p}}, ports),
)


def _container(name: str, optional: dict[str, Any]) -> dict[str, Any]:
    container = {"name": name, "image": "example/app:1", **optional}
    if "lifecycle" in container and not container["lifecycle"]:
        del container["lifecycle"]
    return container


def containers(prefix: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    one = st.builds(
        _container,
        names,
        st.fixed_dictionaries(
            {},
            optional={
                # fresh objects each time: parsed JSON never shares them between containers
                "ports": st.builds(
                    lambda: [
                        {"name": "http", "containerPort": 8080},
                        {"name": "grpc", "containerPort": 9090},
                    ]
                ),
                "readinessProbe": probes,
                "livenessProbe": probes,
                "startupProbe": probes,
                "lifecycle": st.fixed_dictionaries(
                    {}, optional={"preStop": hooks, "postStart": hooks}
                ),
            },
        ),
    )
    unique = st.lists(one, min_size=1, max_size=3, unique_by=lambda c: c["name"])
    return unique.map(lambda cs: [{**c, "name": f"{prefix}{c['name']}"} for c in cs])


ANNOTATIONS = {
    "sidecar.istio.io/nativeSidecar": st.sampled_from(["true", "false"]),
    "sidecar.istio.io/rewriteAppHTTPProbers": st.sampled_from(["true", "false"]),
    "sidecar.istio.io/interceptionMode": st.sampled_from(["REDIRECT", "NONE"]),
    "sidecar.istio.io/proxyCPU": st.sampled_from(["10m", "1"]),
    "proxy.istio.io/config": st.sampled_from(["holdApplicationUntilProxyStarts: true", "{}"]),
    "traffic.sidecar.istio.io/excludeInboundPorts": st.sampled_from(["8080", "1,2"]),
    "traffic.sidecar.istio.io/includeInboundPorts": st.sampled_from(["*", "8080", ""]),
    "prometheus.io/scrape": st.sampled_from(["true", "false"]),
    "prometheus.io/port": st.sampled_from(["9100", "8080"]),
    "prometheus.io/path": st.sampled_from(["/metrics", "/m"]),
    "prometheus.istio.io/scrape-targets": st.sampled_from(["9000:/a,9001", "9002"]),
    "sidecar.istio.io/userVolume": st.just('{"u":{"emptyDir":{}}}'),
    "status.sidecar.istio.io/port": st.sampled_from(["15020", "15555"]),
}


MAP_SHAPES = st.sampled_from(["present", "present", "present", "absent", "null"])


@st.composite
def pods(draw: st.DrawFn) -> dict[str, Any]:
    annotations = draw(st.fixed_dictionaries({}, optional=ANNOTATIONS))
    spec: dict[str, Any] = {"containers": draw(containers(""))}
    inits = draw(st.none() | containers("init-"))
    if inits is not None:
        for init in inits[::2]:
            init["restartPolicy"] = "Always"
        for init in inits[1::2]:  # plain init containers may not have probes
            for field in ("readinessProbe", "livenessProbe", "startupProbe", "lifecycle"):
                init.pop(field, None)
        spec["initContainers"] = inits
    if draw(st.booleans()):
        spec["volumes"] = [{"name": "data", "emptyDir": {}}]
    labels = draw(st.dictionaries(st.sampled_from(["app", "version"]), st.just("v1")))
    metadata: dict[str, Any] = {"name": "p", "namespace": "shop"}
    # Maps that are absent or null are created by injection: one more path for the patch.
    for field, value in (("labels", labels), ("annotations", annotations)):
        if (shape := draw(MAP_SHAPES)) != "absent":
            metadata[field] = value if shape == "present" else None
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
    shape = draw(st.sampled_from(["present"] * 8 + ["absent", "null"]))
    if shape == "absent":
        del pod["metadata"]
    elif shape == "null":
        pod["metadata"] = None
    return pod


CONFIG = InjectConfig()


@given(pods(), st.booleans())
def test_the_patch_applied_to_the_request_pod_gives_the_injected_pod(
    pod: dict[str, Any], native: bool
) -> None:
    injection = inject_pod(pod, CONFIG, native)
    assert {operation["op"] for operation in injection.patch} <= {"add", "remove", "replace"}
    assert jsonpatch.apply_patch(pod, injection.patch) == injection.pod


@given(pods(), st.booleans())
def test_the_patch_is_no_longer_than_a_diff_of_the_two_pods(
    pod: dict[str, Any], native: bool
) -> None:
    """The recorded patch makes no change it later undoes."""
    injection = inject_pod(pod, CONFIG, native)
    assert len(injection.patch) <= len(make_patch(pod, injection.pod))


@given(pods(), st.booleans())
def test_reinjecting_an_injected_pod_gives_an_empty_patch(
    pod: dict[str, Any], native: bool
) -> None:
    once = inject_pod(pod, CONFIG, native).pod
    assert inject_pod(once, CONFIG, native).patch == []


@given(pods(), st.booleans())
def test_injection_is_idempotent(pod: dict[str, Any], native: bool) -> None:
    once = inject_pod(pod, CONFIG, native).pod
    assert inject_pod(once, CONFIG, native).pod == once


@given(pods(), st.booleans())
def test_the_request_pod_is_never_modified(pod: dict[str, Any], native: bool) -> None:
    before = jsonpatch.apply_patch(pod, [])  # a deep copy
    inject_pod(pod, CONFIG, native)
    assert pod == before


@given(pods(), st.booleans())
def test_injected_pods_pass_the_kubernetes_schema(pod: dict[str, Any], native: bool) -> None:
    injected = inject_pod(pod, CONFIG, native).pod
    kubernetes_validate.validate(injected, "1.37.0", strict=True)
    names = [c["name"] for c in _all(injected)]
    assert names.count(mesh.PROXY_CONTAINER) == 1


def _all(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod["spec"].get("initContainers", []), *pod["spec"]["containers"]]
