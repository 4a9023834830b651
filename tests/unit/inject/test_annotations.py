"""One test per annotation the injector honours, and the refusal of bad values."""

import copy
import json
from collections.abc import Callable
from typing import Any

import jsonpatch
import pytest
from hypothesis import given, strategies as st

from tests.unit.inject.factories import every_container, pod, proxy_container as proxy, request
from webhooks import mesh
from webhooks.admission.responses import decoded_patch
from webhooks.inject import formats
from webhooks.inject.annotations import (
    PROXY_CONFIG,
    REWRITE_PROBES,
    SETTING_ANNOTATIONS,
    USER_VOLUME_MOUNT,
)
from webhooks.inject.config import InjectConfig
from webhooks.inject.handler import make_handler
from webhooks.inject.pod import inject_pod

Pod = dict[str, Any]
CONFIG = InjectConfig()


def injected(annotations: dict[str, str], native: bool = False, **spec: Any) -> Pod:
    return inject_pod(pod({"app": "a"}, annotations, **spec), InjectConfig(), native).pod


def init_args(result: Pod) -> list[str]:
    init = next(c for c in result["spec"]["initContainers"] if c["name"] == mesh.INIT_CONTAINER)
    args: list[str] = init["args"]
    return args


def flag(result: Pod, name: str) -> str | None:
    args = init_args(result)
    return args[args.index(name) + 1] if name in args else None


def env(result: Pod, name: str) -> str | None:
    return next((e.get("value") for e in proxy(result)["env"] if e["name"] == name), None)


PROBED = {"containers": [{"name": "a", "image": "x", "readinessProbe": {"httpGet": {"port": 80}}}]}
CHECKS: list[tuple[str, str, Callable[[Pod], bool]]] = [
    (  # both containers run the proxy image: istio-init too, as in Istio
        "sidecar.istio.io/proxyImage",
        "my/proxy:2",
        lambda p: [c["image"] for c in every_container(p)] == ["my/proxy:2", "nginx", "my/proxy:2"],
    ),
    (
        "sidecar.istio.io/proxyCPU",
        "300m",
        lambda p: proxy(p)["resources"]["requests"] == {"cpu": "300m", "memory": "128Mi"},
    ),
    (
        "sidecar.istio.io/proxyMemory",
        "64Mi",
        lambda p: proxy(p)["resources"]["requests"] == {"cpu": "100m", "memory": "64Mi"},
    ),
    (
        "sidecar.istio.io/proxyCPULimit",
        "500m",
        lambda p: proxy(p)["resources"]["limits"] == {"cpu": "500m", "memory": "1Gi"},
    ),
    (
        "sidecar.istio.io/proxyMemoryLimit",
        "2Gi",
        lambda p: proxy(p)["resources"]["limits"] == {"cpu": "2", "memory": "2Gi"},
    ),
    ("sidecar.istio.io/logLevel", "debug", lambda p: env(p, "PROXY_LOG_LEVEL") == "debug"),
    (
        "sidecar.istio.io/componentLogLevel",
        "http:trace",
        lambda p: env(p, "PROXY_COMPONENT_LOG_LEVEL") == "http:trace",
    ),
    ("sidecar.istio.io/interceptionMode", "NONE", lambda p: "initContainers" not in p["spec"]),
    (
        "sidecar.istio.io/nativeSidecar",
        "true",
        lambda p: proxy(p).get("restartPolicy") == "Always",
    ),
    (
        "status.sidecar.istio.io/port",
        "15555",
        lambda p: (
            flag(p, "-d") == "15090,15021,15555"
            and json.loads(env(p, "PROXY_CONFIG") or "")["statusPort"] == 15555
        ),
    ),
    (
        "readiness.status.sidecar.istio.io/initialDelaySeconds",
        "7",
        lambda p: proxy(p)["readinessProbe"]["initialDelaySeconds"] == 7,
    ),
    (
        "readiness.status.sidecar.istio.io/periodSeconds",
        "3",
        lambda p: proxy(p)["readinessProbe"]["periodSeconds"] == 3,
    ),
    (
        "readiness.status.sidecar.istio.io/failureThreshold",
        "9",
        lambda p: proxy(p)["readinessProbe"]["failureThreshold"] == 9,
    ),
    (
        "traffic.sidecar.istio.io/includeOutboundIPRanges",
        "10.0.0.0/8",
        lambda p: flag(p, "-i") == "10.0.0.0/8",
    ),
    (
        "traffic.sidecar.istio.io/excludeOutboundIPRanges",
        "10.0.0.1/32,fd00::/8",
        lambda p: flag(p, "-x") == "10.0.0.1/32,fd00::/8",
    ),
    ("traffic.sidecar.istio.io/includeInboundPorts", "80,81", lambda p: flag(p, "-b") == "80,81"),
    (
        "traffic.sidecar.istio.io/excludeInboundPorts",
        "8081",
        lambda p: flag(p, "-d") == "15090,15021,8081,15020",
    ),
    ("traffic.sidecar.istio.io/includeOutboundPorts", "443", lambda p: flag(p, "-q") == "443"),
    ("traffic.sidecar.istio.io/excludeOutboundPorts", "3306", lambda p: flag(p, "-o") == "3306"),
    ("traffic.sidecar.istio.io/excludeInterfaces", "eth1", lambda p: flag(p, "-c") == "eth1"),
    (
        "proxy.istio.io/config",
        '{"holdApplicationUntilProxyStarts": true}',
        lambda p: (
            p["spec"]["containers"][0]["name"] == mesh.PROXY_CONTAINER
            and "postStart" in proxy(p)["lifecycle"]
        ),
    ),
    (
        "proxy.istio.io/config",
        "concurrency: 3\nterminationDrainDuration: 30s",
        lambda p: (
            json.loads(env(p, "PROXY_CONFIG") or "")
            == {
                "statusPort": 15020,
                "terminationDrainDuration": "30s",
                "holdApplicationUntilProxyStarts": False,
                "concurrency": 3,
            }
        ),
    ),
    (
        "sidecar.istio.io/userVolume",
        '{"extra":{"emptyDir":{}}}',
        lambda p: {"name": "extra", "emptyDir": {}} in p["spec"]["volumes"],
    ),
    (
        "prometheus.istio.io/merge-metrics",
        "false",
        lambda p: "prometheus.io/port" not in p["metadata"]["annotations"],
    ),
]


@pytest.mark.parametrize(("key", "value", "check"), CHECKS, ids=[c[0] for c in CHECKS])
def test_annotation_is_honoured(key: str, value: str, check: Callable[[Pod], bool]) -> None:
    assert check(injected({key: value}))


def test_user_volume_mount_is_added_to_the_proxy() -> None:
    result = injected(
        {
            "sidecar.istio.io/userVolume": '{"extra":{"emptyDir":{}}}',
            "sidecar.istio.io/userVolumeMount": '{"extra":{"mountPath":"/x","readOnly":true}}',
        }
    )
    assert {"name": "extra", "mountPath": "/x", "readOnly": True} in proxy(result)["volumeMounts"]
    status = json.loads(result["metadata"]["annotations"][mesh.STATUS_ANNOTATION])
    assert "extra" in status["volumes"]


def test_rewrite_app_http_probers_false_keeps_probes() -> None:
    result = injected({"sidecar.istio.io/rewriteAppHTTPProbers": "false"}, **PROBED)
    assert result["spec"]["containers"][0]["readinessProbe"] == {"httpGet": {"port": 80}}
    assert env(result, mesh.APP_PROBERS_ENV) is None


@pytest.mark.parametrize(
    "value", ["false", "False", "0", "f"]
)  # Go's spellings; Istio: "false" only
def test_native_sidecar_false_overrides_a_native_cluster(value: str) -> None:
    result = injected({"sidecar.istio.io/nativeSidecar": value}, native=True)
    assert result["spec"]["containers"][-1]["name"] == mesh.PROXY_CONTAINER


BAD: list[tuple[str, str]] = [
    ("sidecar.istio.io/proxyCPU", "lots"),
    ("sidecar.istio.io/proxyMemory", "-1Gi"),
    ("sidecar.istio.io/proxyCPULimit", "1 core"),
    ("sidecar.istio.io/proxyMemoryLimit", "big"),
    ("sidecar.istio.io/proxyImage", "has space:1"),
    ("sidecar.istio.io/logLevel", "loud"),
    ("sidecar.istio.io/componentLogLevel", "http"),
    ("sidecar.istio.io/interceptionMode", "MAGIC"),
    ("sidecar.istio.io/interceptionMode", "TPROXY"),
    ("sidecar.istio.io/nativeSidecar", "maybe"),
    ("sidecar.istio.io/rewriteAppHTTPProbers", "perhaps"),
    ("status.sidecar.istio.io/port", "70000"),
    ("status.sidecar.istio.io/port", "²"),
    ("status.sidecar.istio.io/port", "15000"),
    ("status.sidecar.istio.io/port", "15001"),
    ("status.sidecar.istio.io/port", "15006"),
    ("status.sidecar.istio.io/port", "15021"),
    ("status.sidecar.istio.io/port", "15090"),
    ("readiness.status.sidecar.istio.io/periodSeconds", "²"),
    ("readiness.status.sidecar.istio.io/failureThreshold", "\u0661\u0662"),
    ("traffic.sidecar.istio.io/excludeInboundPorts", "80,²"),
    ("traffic.sidecar.istio.io/includeInboundPorts", "\u0668\u0660"),
    ("prometheus.io/port", "²"),
    ("prometheus.istio.io/scrape-targets", "²:/metrics"),
    ("sidecar.istio.io/proxyCPU", "\u0661"),
    ("readiness.status.sidecar.istio.io/initialDelaySeconds", "-1"),
    ("readiness.status.sidecar.istio.io/periodSeconds", "0"),
    ("readiness.status.sidecar.istio.io/failureThreshold", "x"),
    ("traffic.sidecar.istio.io/includeOutboundIPRanges", "10.0.0.0/33"),
    ("traffic.sidecar.istio.io/excludeOutboundIPRanges", "*"),
    ("traffic.sidecar.istio.io/includeInboundPorts", "80,http"),
    ("traffic.sidecar.istio.io/excludeInboundPorts", "99999"),
    ("traffic.sidecar.istio.io/includeOutboundPorts", "a"),
    ("traffic.sidecar.istio.io/excludeOutboundPorts", "1-2"),
    ("traffic.sidecar.istio.io/excludeInterfaces", "eth 0"),
    ("proxy.istio.io/config", "[1, 2]"),
    ("proxy.istio.io/config", "concurrency: many"),
    ("proxy.istio.io/config", "terminationDrainDuration: soon"),
    ("proxy.istio.io/config", "holdApplicationUntilProxyStarts: 1"),
    ("sidecar.istio.io/userVolume", "not json"),
    ("sidecar.istio.io/userVolumeMount", '{"v":{"readOnly":true}}'),
    ("prometheus.istio.io/merge-metrics", "nah"),
    ("prometheus.io/port", "15090"),
    ("prometheus.istio.io/scrape-targets", "8080:/m,abc:/n"),
    # The differences from Istio that docs/injection.md lists: Istio accepts these.
    ("status.sidecar.istio.io/port", "0"),
    ("readiness.status.sidecar.istio.io/failureThreshold", "0"),
    ("sidecar.istio.io/nativeSidecar", "yes"),
    ("sidecar.istio.io/rewriteAppHTTPProbers", ""),
]


def test_every_tuning_annotation_has_a_test_and_a_bad_value() -> None:
    # userVolumeMount and rewriteAppHTTPProbers have tests of their own above.
    own_tests = {USER_VOLUME_MOUNT, REWRITE_PROBES}
    assert {key for key, _, _ in CHECKS} | own_tests >= SETTING_ANNOTATIONS
    assert {key for key, _ in BAD} >= SETTING_ANNOTATIONS


@pytest.mark.parametrize(("key", "value"), BAD, ids=[f"{k}={v}" for k, v in BAD])
def test_bad_annotation_is_refused_naming_it_and_its_value(key: str, value: str) -> None:
    handler = make_handler(lambda: CONFIG)
    response = handler(request(pod({"app": "a"}, {key: value})))
    assert response.allowed is False
    assert response.status is not None
    assert repr(key) in response.status.message
    assert repr(value) in response.status.message


DEEP = "[" * 5000  # past the recursion limit of json and yaml, not past the apiserver's checks


@pytest.mark.parametrize(
    "key",
    ["proxy.istio.io/config", "sidecar.istio.io/userVolume", "sidecar.istio.io/userVolumeMount"],
)
def test_a_value_nested_too_deeply_is_refused_not_a_500(key: str) -> None:
    response = make_handler(lambda: CONFIG)(request(pod({"app": "a"}, {key: DEEP})))
    assert response.allowed is False
    assert response.status is not None
    assert response.status.message == (
        f"sidecar injection refused: invalid value {DEEP[:200]!r}... (5000 characters) "
        f"for annotation {key!r}: nested too deeply"
    )


def _injected_with_probes() -> dict[str, Any]:
    probed = {"name": "app", "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}
    original = pod({"app": "a"}, {"prometheus.io/scrape": "true"}, containers=[probed])
    return copy.deepcopy(inject_pod(original, CONFIG, False).pod)  # parts are shared


def _with_record(injected: dict[str, Any], env: str, value: str | None) -> dict[str, Any]:
    """The injected pod with its proxy's env `env` set to `value`; None removes the entry."""
    entries = proxy(injected)["env"]
    assert [entry["name"] for entry in entries].count(env) == 1
    entries[:] = [
        {**entry, "value": value} if entry["name"] == env else entry
        for entry in entries
        if entry["name"] != env or value is not None
    ]
    return injected


@pytest.mark.parametrize("env", [mesh.APP_PROBERS_ENV, mesh.PROMETHEUS_ANNOTATIONS_ENV])
@pytest.mark.parametrize(
    ("value", "why"),
    [
        (DEEP, "nested too deeply"),
        ("{", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        ("[]", "not a JSON object"),
        ("null", "not a JSON object"),
    ],
)
def test_a_proxy_record_that_cannot_be_read_is_refused_at_reinjection(
    env: str, value: str, why: str
) -> None:
    """Injecting again over it would leave probes pointing at an agent with nothing to run for
    them (the pod never Ready), or drop the pod's scrape settings."""
    injected = _with_record(_injected_with_probes(), env, value)
    response = make_handler(lambda: CONFIG)(request(injected))
    assert response.allowed is False
    assert response.status is not None
    assert response.status.message == (
        f"sidecar injection refused: the previous injection's istio-proxy env {env} cannot be "
        f"read ({why}), so what it rewrote cannot be restored"
    )
    assert response.audit_annotations == {"reason": "invalid-pod"}


_NO_READABLE_PROBE = (
    "sidecar injection refused: the previous injection's istio-proxy env ISTIO_KUBE_APP_PROBERS "
    "has no readable probe for /app-health/app/readyz, so it cannot be restored"
)


@pytest.mark.parametrize(
    "record",
    [
        # an entry that cannot be read
        *(json.dumps({"/app-health/app/readyz": entry}) for entry in (1, {}, {"httpGet": "x"})),
        json.dumps({"/app-health/app/readyz": {"exec": {"command": ["true"]}}}),
        json.dumps({"/app-health/other/livez": {}}),  # no entry for the probe
        None,  # no record at all
    ],
)
def test_a_probe_left_on_the_agent_without_a_readable_entry_is_refused(
    record: str | None,
) -> None:
    """Injected again, the probe would have nothing behind it: the pod would never be Ready."""
    injected = _with_record(_injected_with_probes(), mesh.APP_PROBERS_ENV, record)
    response = make_handler(lambda: CONFIG)(request(injected))
    assert response.status is not None
    assert response.status.message == _NO_READABLE_PROBE


def test_a_reinjection_after_the_status_port_moved_follows_it() -> None:
    """The previous injection's status port comes from its PROXY_CONFIG: the merged
    prometheus.io/port (15020) is recognised as ours, not taken for the app's."""
    injected = _injected_with_probes()
    injected["metadata"]["annotations"]["status.sidecar.istio.io/port"] = "15030"
    response = make_handler(lambda: CONFIG)(request(injected))
    assert response.allowed is True, response.status
    after = jsonpatch.apply_patch(injected, decoded_patch(response))
    app = next(c for c in after["spec"]["containers"] if c["name"] == "app")
    assert app["readinessProbe"]["httpGet"] == {"path": "/app-health/app/readyz", "port": 15030}
    assert after["metadata"]["annotations"]["prometheus.io/port"] == "15030"
    scrape = json.loads(env(after, mesh.PROMETHEUS_ANNOTATIONS_ENV) or "")
    assert scrape == {"scrape": "true", "path": "", "port": ""}
    probers = json.loads(env(after, mesh.APP_PROBERS_ENV) or "")
    assert probers == {"/app-health/app/readyz": {"httpGet": {"path": "/ready", "port": 8080}}}


def test_a_record_for_a_probe_the_user_changed_since_is_not_needed() -> None:
    injected = _injected_with_probes()
    app = next(c for c in injected["spec"]["containers"] if c["name"] == "app")
    app["readinessProbe"] = {"exec": {"command": ["true"]}}
    record = json.dumps({"/app-health/app/readyz": 1, "/app-health/gone/livez": 1, "x": 1})
    _with_record(injected, mesh.APP_PROBERS_ENV, record)
    response = make_handler(lambda: CONFIG)(request(injected))
    assert response.allowed is True
    # The user's probe stays, and with no probe left to run, the agent's record goes.
    after = jsonpatch.apply_patch(injected, decoded_patch(response))
    assert next(c for c in after["spec"]["containers"] if c["name"] == "app") == app
    assert mesh.APP_PROBERS_ENV not in {entry["name"] for entry in proxy(after)["env"]}


def test_a_scrape_record_is_not_needed_once_the_user_repointed_scraping() -> None:
    injected = _injected_with_probes()
    injected["metadata"]["annotations"]["prometheus.io/port"] = "9100"
    _with_record(injected, mesh.PROMETHEUS_ANNOTATIONS_ENV, DEEP)
    response = make_handler(lambda: CONFIG)(request(injected))
    assert response.allowed is True
    after = jsonpatch.apply_patch(injected, decoded_patch(response))
    record = next(
        e["value"] for e in proxy(after)["env"] if e["name"] == mesh.PROMETHEUS_ANNOTATIONS_ENV
    )
    assert json.loads(record)["port"] == "9100"  # merged again from the user's annotations


def test_a_status_record_nested_too_deeply_lists_nothing() -> None:
    injected = _injected_with_probes()
    injected["metadata"]["annotations"][mesh.STATUS_ANNOTATION] = DEEP
    response = make_handler(lambda: CONFIG)(request(injected))
    assert response.status is not None
    assert response.status.message.startswith(
        "sidecar injection refused: pod already has a container named 'istio-init'"
    )


def test_a_long_bad_value_is_quoted_in_part() -> None:
    value = "x" * 1000
    response = make_handler(lambda: CONFIG)(
        request(pod({"app": "a"}, {"sidecar.istio.io/proxyCPU": value}))
    )
    assert response.status is not None
    assert (
        f"invalid value {'x' * 200!r}... (1000 characters) for annotation"
        in response.status.message
    )


def test_a_drain_longer_than_the_agent_accepts_is_refused_at_injection() -> None:
    value = "terminationDrainDuration: 25h"
    response = make_handler(lambda: CONFIG)(request(pod({"app": "a"}, {PROXY_CONFIG: value})))
    assert response.status is not None
    assert response.status.message == (
        f"sidecar injection refused: invalid value {value!r} for annotation "
        f"'{PROXY_CONFIG}': terminationDrainDuration: want a duration of at most 24h"
    )


@pytest.mark.parametrize(
    ("annotations", "requests", "limits"),
    [
        # a request above the default limit: the default limit goes (none, as Istio's alone)
        (
            {"sidecar.istio.io/proxyCPU": "4000m"},
            {"cpu": "4000m", "memory": "128Mi"},
            {"memory": "1Gi"},
        ),
        # a limit below the default request: the default request goes (Kubernetes: = limit)
        (
            {"sidecar.istio.io/proxyMemoryLimit": "64Mi"},
            {"cpu": "100m"},
            {"cpu": "2", "memory": "64Mi"},
        ),
        (
            {"sidecar.istio.io/proxyCPU": "2"},
            {"cpu": "2", "memory": "128Mi"},
            {"cpu": "2", "memory": "1Gi"},
        ),
        (
            {"sidecar.istio.io/proxyCPU": "3", "sidecar.istio.io/proxyCPULimit": "4"},
            {"cpu": "3", "memory": "128Mi"},
            {"cpu": "4", "memory": "1Gi"},
        ),
    ],
)
def test_a_default_on_the_wrong_side_of_an_annotated_resource_is_dropped(
    annotations: dict[str, str], requests: dict[str, str], limits: dict[str, str]
) -> None:
    result = inject_pod(pod({"app": "a"}, annotations), CONFIG, False).pod
    assert proxy(result)["resources"] == {"requests": requests, "limits": limits}


def test_a_request_annotated_above_its_annotated_limit_is_refused() -> None:
    annotations = {"sidecar.istio.io/proxyCPU": "3", "sidecar.istio.io/proxyCPULimit": "2"}
    response = make_handler(lambda: CONFIG)(request(pod({"app": "a"}, annotations)))
    assert response.status is not None
    assert response.status.message == (
        "sidecar injection refused: invalid value '3' for annotation "
        "'sidecar.istio.io/proxyCPU': above sidecar.istio.io/proxyCPULimit '2'"
    )


_QUANTITIES = st.sampled_from(
    ["1m", "100m", "1", "2", "4000m", "64Mi", "128Mi", "1Gi", "2Gi", "1e3"]
)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "sidecar.istio.io/proxyCPU",
                "sidecar.istio.io/proxyCPULimit",
                "sidecar.istio.io/proxyMemory",
                "sidecar.istio.io/proxyMemoryLimit",
            ]
        ),
        _QUANTITIES,
    )
)
def test_resource_annotations_never_give_a_request_above_its_limit(
    annotations: dict[str, str],
) -> None:
    """What the apiserver would refuse ("must be less than or equal to cpu limit") is either
    refused here, naming the annotation, or never produced."""
    response = make_handler(lambda: CONFIG)(request(pod({"app": "a"}, annotations)))
    if not response.allowed:
        assert response.status is not None
        assert "above sidecar.istio.io/proxy" in response.status.message
        return
    after = jsonpatch.apply_patch(pod({"app": "a"}, annotations), decoded_patch(response))
    for container in (proxy(after), *after["spec"].get("initContainers", [])):
        resources = container.get("resources", {})
        for name, limit in resources.get("limits", {}).items():
            wanted = resources.get("requests", {}).get(name)
            if wanted is not None:
                assert formats.quantity_amount(wanted) <= formats.quantity_amount(limit)


_CACHE = {"name": "cache", "emptyDir": {}}


@pytest.mark.parametrize(
    ("annotations", "volumes", "message"),
    [
        (
            {"sidecar.istio.io/userVolume": '{"cache": {"emptyDir": {}}}'},
            [_CACHE],
            'invalid value \'{"cache": {"emptyDir": {}}}\' for annotation '
            "'sidecar.istio.io/userVolume': volume 'cache' is already in the pod",
        ),
        (
            {"sidecar.istio.io/userVolume": '{"istio-envoy": {"emptyDir": {}}}'},
            [],
            "'istio-envoy' is a volume the injector adds",
        ),
        (
            {"sidecar.istio.io/userVolumeMount": '{"a": {"mountPath": "/etc/istio/proxy"}}'},
            [],
            "mountPath '/etc/istio/proxy' is one the injector uses",
        ),
        (
            {
                "sidecar.istio.io/userVolumeMount": (
                    '{"a": {"mountPath": "/certs"}, "b": {"mountPath": "/certs"}}'
                )
            },
            [],
            "two mounts at mountPath '/certs'",
        ),
        (
            {},
            [{"name": "istio-podinfo", "emptyDir": {}}],
            "pod already has a volume named 'istio-podinfo', which the injector adds; "
            "overriding the injected volumes is not supported",
        ),
    ],
)
def test_a_volume_or_mount_that_would_be_there_twice_is_refused(
    annotations: dict[str, str], volumes: list[dict[str, Any]], message: str
) -> None:
    """Kubernetes refuses a pod with two volumes of a name or two mounts at a path."""
    response = make_handler(lambda: CONFIG)(
        request(pod({"app": "a"}, annotations, volumes=volumes))
    )
    assert response.allowed is False
    assert response.status is not None
    assert message in response.status.message


def test_a_user_volume_is_injected_again_without_a_duplicate() -> None:
    annotations = {
        "sidecar.istio.io/userVolume": '{"certs": {"secret": {"secretName": "c"}}}',
        "sidecar.istio.io/userVolumeMount": '{"certs": {"mountPath": "/certs"}}',
    }
    injected = copy.deepcopy(
        inject_pod(pod({"app": "a"}, annotations, volumes=[_CACHE]), CONFIG, False).pod
    )
    again = inject_pod(injected, CONFIG, False)
    assert again.patch == []
    assert [v["name"] for v in again.pod["spec"]["volumes"]].count("certs") == 1
