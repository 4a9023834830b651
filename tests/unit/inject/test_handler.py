import copy
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import given, strategies as st
from prometheus_client import REGISTRY

from tests.unit.inject.factories import pod, request
from webhooks import mesh
from webhooks.admission.responses import decoded_patch
from webhooks.admission.review import AdmissionResponse, GroupVersionKind
from webhooks.inject.annotations import UNSUPPORTED_ANNOTATIONS
from webhooks.inject.config import InjectConfig
from webhooks.inject.handler import make_handler
from webhooks.inject.pod import inject_pod


def default() -> InjectConfig:
    """The config factory of these tests: the built-in defaults."""
    return InjectConfig()


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_an_injected_pod_gets_a_patch_and_is_counted() -> None:
    before = (sample("sidecar_injection_requests_total"), sample("sidecar_injection_success_total"))
    timed = sample("sidecar_injection_time_seconds_count")
    response = make_handler(default)(request(pod()))
    assert response.allowed is True
    assert response.patch_type == "JSONPatch"
    assert any(op["path"] == "/spec/containers/1" for op in decoded_patch(response))
    after = (sample("sidecar_injection_requests_total"), sample("sidecar_injection_success_total"))
    assert after == (before[0] + 1, before[1] + 1)
    assert sample("sidecar_injection_time_seconds_count") == timed + 1
    assert response.audit_annotations == {"reason": "policy-enabled"}


def test_a_skipped_pod_gets_no_patch_and_counts_its_reason() -> None:
    labels = {"reason": "host-network"}
    before = sample("sidecar_injection_skip_total", labels)
    response = make_handler(default)(request(pod(hostNetwork=True)))
    assert response.allowed is True
    assert response.patch is None
    assert sample("sidecar_injection_skip_total", labels) == before + 1
    assert response.audit_annotations == {"reason": "host-network"}


def test_a_surprising_skip_of_a_pod_created_directly_is_a_warning() -> None:
    handler = make_handler(default)
    response = handler(request(pod({}, {"sidecar.istio.io/inject": "false"})))
    assert response.patch is None
    assert response.warnings
    assert "deprecated" in response.warnings[0]


@pytest.mark.parametrize("owners", [None, [], True, "x", {"kind": "ReplicaSet"}])
def test_owner_references_that_are_not_a_list_of_owners_count_as_none(owners: object) -> None:
    skipped = pod({}, {"sidecar.istio.io/inject": "false"})
    skipped["metadata"]["ownerReferences"] = owners
    response = make_handler(default)(request(skipped))
    assert response.warnings


def test_pods_of_controllers_get_no_skip_warnings() -> None:
    owned = pod({}, {"sidecar.istio.io/inject": "false"})
    owned["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x", "uid": "1", "controller": True}
    ]
    assert make_handler(default)(request(owned)).warnings is None


def test_bad_annotations_are_denied_and_counted() -> None:
    labels = {"reason": "invalid-annotation"}
    before = sample("sidecar_injection_failure_total", labels)
    response = make_handler(default)(request(pod({}, {"sidecar.istio.io/proxyCPU": "lots"})))
    assert response.allowed is False
    assert response.status is not None
    assert response.status.message == (
        "sidecar injection refused: invalid value 'lots' for annotation "
        "'sidecar.istio.io/proxyCPU': not a Kubernetes quantity (e.g. 100m, 128Mi)"
    )
    assert sample("sidecar_injection_failure_total", labels) == before + 1
    assert response.audit_annotations == {"reason": "invalid-annotation"}


def test_a_user_container_named_like_ours_is_refused() -> None:
    clash = pod(containers=[{"name": "istio-proxy", "image": "mine"}])
    response = make_handler(default)(request(clash))
    assert response.allowed is False
    assert response.status is not None
    assert "istio-proxy" in response.status.message


def test_a_request_without_a_pod_is_denied() -> None:
    assert make_handler(default)(request(None)).allowed is False


def test_objects_other_than_pods_are_allowed_untouched() -> None:
    labels = {"reason": "not-a-pod"}
    before = sample("sidecar_injection_skip_total", labels)
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    review = request(config_map).model_copy(
        update={"kind": GroupVersionKind(version="v1", kind="ConfigMap")}
    )
    response = make_handler(default)(review)
    assert response.allowed is True
    assert response.patch is None
    assert sample("sidecar_injection_skip_total", labels) == before + 1


def test_the_config_is_read_per_request() -> None:
    configs = iter([InjectConfig(policy="enabled"), InjectConfig(policy="disabled")])
    handler = make_handler(lambda: next(configs))
    assert handler(request(pod())).patch is not None
    assert handler(request(pod())).patch is None


@pytest.mark.parametrize(("version", "native"), [((1, 28), False), ((1, 29), True), (None, False)])
def test_auto_native_sidecars_follow_the_cluster_version(
    version: tuple[int, int] | None, native: bool
) -> None:
    response = make_handler(default, version)(request(pod()))
    added = {op["path"] for op in decoded_patch(response)}
    assert ("/spec/containers/1" not in added) is native


def test_unexpected_errors_are_counted_and_propagate() -> None:
    def broken() -> InjectConfig:
        raise RuntimeError("boom")

    labels = {"reason": "internal"}
    before = sample("sidecar_injection_failure_total", labels)
    with pytest.raises(RuntimeError):
        make_handler(broken)(request(pod()))
    assert sample("sidecar_injection_failure_total", labels) == before + 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("labels", []), ("labels", ["app"]), ("labels", ""), ("annotations", []), ("annotations", 0)],
)
def test_metadata_maps_that_are_not_maps_are_refused(field: str, value: object) -> None:
    bad = pod()
    bad["metadata"][field] = value
    response = make_handler(default)(request(bad))
    assert response.allowed is False
    assert response.status is not None
    assert response.status.message == (
        f"sidecar injection refused: pod metadata.{field} must map names to strings"
    )
    assert response.audit_annotations == {"reason": "invalid-pod"}


def test_volumes_that_are_not_a_list_are_refused() -> None:
    response = make_handler(default)(request(pod(volumes={})))
    assert response.allowed is False
    assert response.status is not None
    assert (
        response.status.message
        == "sidecar injection refused: pod spec.volumes must be a list of volumes"
    )


def test_the_time_histogram_is_cumulative_and_counts_every_request() -> None:
    from webhooks.inject.metrics import TIME_BUCKETS, InjectionMetrics

    recorded = InjectionMetrics()  # a fresh collector, off the registry: exact numbers
    for seconds in (0.00005, 0.0001, 0.0003, 0.002, 5.0):
        recorded.record("success", "", seconds)
    recorded.record("skip", "host-network", 0.0002)
    histogram = next(m for m in recorded.collect() if m.name == "sidecar_injection_time_seconds")
    buckets = {s.labels["le"]: s.value for s in histogram.samples if s.name.endswith("_bucket")}
    assert list(buckets) == [*map(str, TIME_BUCKETS), "+Inf"]
    assert buckets["0.0001"] == 2  # `le`: a value on a bound counts in that bound's bucket
    assert buckets["0.00025"] == 3
    assert buckets["0.0025"] == 5
    assert buckets["1.0"] == 5
    assert buckets["+Inf"] == 6
    count = next(s.value for s in histogram.samples if s.name.endswith("_count"))
    total = next(s.value for s in histogram.samples if s.name.endswith("_sum"))
    assert count == 6
    assert total == pytest.approx(5.00265)
    requests = next(m for m in recorded.collect() if m.name == "sidecar_injection_requests")
    assert [s.value for s in requests.samples] == [6]


class _Named(NamedTuple):
    """A step to the item of a list (containers, env) with this name, wherever it sits."""

    name: str


_PROXY = _Named(mesh.PROXY_CONTAINER)
_Step = str | int | _Named

# Where a pod's shape can be wrong, and what can be there instead.
_PLACES: tuple[tuple[_Step, ...], ...] = (
    ("metadata",),
    ("spec",),
    ("metadata", "name"),
    ("metadata", "generateName"),
    ("metadata", "namespace"),
    ("metadata", "labels"),
    ("metadata", "labels", "sidecar.istio.io/inject"),
    ("metadata", "labels", "app"),
    ("metadata", "annotations"),
    ("metadata", "annotations", "sidecar.istio.io/inject"),
    ("metadata", "annotations", "sidecar.istio.io/status"),
    ("metadata", "annotations", "proxy.istio.io/config"),
    ("metadata", "annotations", "prometheus.io/port"),
    ("metadata", "ownerReferences"),
    ("metadata", "ownerReferences", 0),
    ("spec", "hostNetwork"),
    ("spec", "containers"),
    ("spec", "initContainers"),
    ("spec", "volumes"),
    ("spec", "containers", 0),
    ("spec", "containers", 0, "name"),
    ("spec", "containers", 0, "env"),
    ("spec", "containers", 0, "ports"),
    ("spec", "containers", 0, "ports", 0),
    ("spec", "containers", 0, "ports", 0, "containerPort"),
    ("spec", "containers", 0, "readinessProbe"),
    ("spec", "containers", 0, "readinessProbe", "httpGet"),
    ("spec", "containers", 0, "readinessProbe", "httpGet", "port"),
    ("spec", "containers", 0, "readinessProbe", "httpGet", "path"),
    ("spec", "containers", 0, "readinessProbe", "timeoutSeconds"),
    ("spec", "containers", 0, "lifecycle"),
    ("spec", "containers", 0, "lifecycle", "preStop"),
    ("spec", "initContainers", 0, "restartPolicy"),
    ("spec", "initContainers", 0, "startupProbe"),
    # An injected pod's proxy and the env entries a re-injection reads to undo the rewrites,
    # found by name wherever the layout put them (classic or native, first or last).
    *(
        place
        for field in ("containers", "initContainers")
        for place in (
            ("spec", field, _PROXY),
            ("spec", field, _PROXY, "env"),
            ("spec", field, _PROXY, "env", _Named(mesh.PROMETHEUS_ANNOTATIONS_ENV), "value"),
            ("spec", field, _PROXY, "env", _Named(mesh.APP_PROBERS_ENV), "value"),
        )
    ),
)
_WRONG = (
    st.none()
    | st.booleans()
    | st.integers(-1, 70000)
    | st.sampled_from(
        [
            *("", "http", "8080", "concurrency: x", "{}", "[1]", "null"),
            *("1" * 5000, "0" * 5000 + "80", "²"),  # past int()'s 4,300 digits; a digit it refuses
            '{"scrape": 1, "port": [], "targets": [1, {"port": null}]}',
            '{"/app-health/app/readyz": 1, "/app-health/log-shipper/startupz": {"grpc": 1}}',
            '{"/app-health/app/readyz": {"httpGet": {"port": [], "path": null}}}',
        ]
    )
    | st.lists(st.integers(0, 2), max_size=2)
    | st.dictionaries(st.sampled_from(["name", "port", "path"]), st.integers(0, 2), max_size=2)
)


def _probed_pod() -> dict[str, Any]:
    probe = {"httpGet": {"path": "/ready", "port": "http"}, "timeoutSeconds": 2}
    container = {
        "name": "app",
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": probe,
        "lifecycle": {"preStop": {"httpGet": {"path": "/stop", "port": 8080}}},
    }
    native = {
        "name": "log-shipper",
        "restartPolicy": "Always",
        "startupProbe": {"tcpSocket": {"port": 9000}},
    }
    subject = pod(
        labels={"app": "shop"},
        annotations={"prometheus.io/scrape": "true"},
        containers=[container],
        initContainers=[native],
    )
    subject["metadata"]["ownerReferences"] = [
        {"kind": "ReplicaSet", "name": "shop-5d4f", "controller": True}
    ]
    return subject


def _key(holder: Any, step: _Step) -> str | int | None:
    """What `step` names in holder: a key of a map, an index of a list, or None if nothing."""
    if isinstance(step, _Named):
        items = holder if isinstance(holder, list) else ()
        named = (
            i
            for i, item in enumerate(items)
            if isinstance(item, dict) and item.get("name") == step.name
        )
        return next(named, None)
    if isinstance(holder, dict):
        return step if isinstance(step, str) else None
    fits = isinstance(holder, list) and isinstance(step, int) and step < len(holder)
    return step if fits else None


def _reshape(subject: dict[str, Any], changes: list[tuple[tuple[_Step, ...], Any]]) -> None:
    """Put each value at its place in `subject`, where the place still exists."""
    for (*parents, last), value in changes:
        holder: Any = subject
        for step in parents:
            key = _key(holder, step)
            if key is None:
                holder = None
            else:
                holder = holder.get(key) if isinstance(holder, dict) else holder[key]
        key = _key(holder, last)
        if key is not None:
            holder[key] = value


def _refused_or_allowed(response: AdmissionResponse) -> bool:
    return response.allowed or (
        response.status is not None
        and response.status.message.startswith("sidecar injection refused: ")
    )


_CHANGES = st.lists(st.tuples(st.sampled_from(_PLACES), _WRONG), max_size=3)


# Configs that skip the pod as written, then configs that inject it.
_SKIPPING = [
    InjectConfig.model_validate({"policy": "disabled"}),
    InjectConfig.model_validate({"neverInjectSelector": [{"matchLabels": {"app": "shop"}}]}),
]
_CONFIGS = _SKIPPING + [
    InjectConfig.model_validate(document)
    for document in (
        {},
        {
            "policy": "disabled",
            "alwaysInjectSelector": [
                {"matchExpressions": [{"key": "app", "operator": "In", "values": ["shop"]}]}
            ],
        },
        {"nativeSidecars": "false", "holdApplicationUntilProxyStarts": True},
        {"nativeSidecars": "true", "statusPort": 15030},
        {"rewriteAppHTTPProbe": False, "enablePrometheusMerge": False},
        {"traffic": {"interceptionMode": "NONE"}},
    )
]


# The cluster version decides the layout for nativeSidecars: auto (None: classic).
_CLUSTERS = st.sampled_from([None, (1, 36)])


@given(_CHANGES, st.sampled_from(_CONFIGS), _CLUSTERS)
def test_no_pod_shape_makes_the_handler_fail(
    changes: list[tuple[tuple[_Step, ...], Any]],
    config: InjectConfig,
    cluster: tuple[int, int] | None,
) -> None:
    """A pod of any shape is injected, skipped or refused with a message: never an HTTP 500."""
    subject = _probed_pod()
    _reshape(subject, changes)
    response = make_handler(lambda: config, cluster)(request(subject))
    assert _refused_or_allowed(response)
    if not changes:  # the pod as written: allowed, and patched unless the config skips it
        assert response.allowed
        assert (response.patch is None) == any(config is skipping for skipping in _SKIPPING)


@given(_CHANGES, st.booleans(), st.sampled_from(_CONFIGS), _CLUSTERS)
def test_no_shape_of_an_injected_pod_makes_reinjection_fail(
    changes: list[tuple[tuple[_Step, ...], Any]],
    native: bool,
    config: InjectConfig,
    cluster: tuple[int, int] | None,
) -> None:
    """The same for a pod injected before (reinvocation, or injected offline), whose previous
    injection is undone from its status annotation and env first."""
    injected = copy.deepcopy(inject_pod(_probed_pod(), config, native).pod)  # parts are shared
    _reshape(injected, changes)
    response = make_handler(lambda: config, cluster)(request(injected))
    assert _refused_or_allowed(response)
    if not changes:
        assert response.allowed


def test_istio_features_not_implemented_are_named_in_warnings_and_the_pod_injected() -> None:
    annotations = {
        "sidecar.istio.io/bootstrapOverride": "my-bootstrap",
        "app.example/owner": "team-a",
        "inject.istio.io/templates": "gateway",
        "sidecar.istio.io/statsHistogramBuckets": '{"istiocustom": [1, 5, 50]}',
        "proxy.istio.io/config": '{"concurrency": 1, "tracing": {}}',
    }
    response = make_handler(default)(request(pod({}, annotations)))
    assert response.patch is not None
    assert response.warnings == [
        "annotations not supported by mesh-webhooks are ignored: "
        "sidecar.istio.io/bootstrapOverride, inject.istio.io/templates, "
        "sidecar.istio.io/statsHistogramBuckets",
        "proxy.istio.io/config fields not supported by mesh-webhooks are ignored: tracing",
    ]
    assert make_handler(default)(request(pod({}, {"app.example/owner": "a"}))).warnings is None


@pytest.mark.parametrize(
    ("annotation", "value"),
    [
        ("prometheus.io/port", "1" * 5000),  # past the 4,300 digits Python's int() reads
        ("prometheus.istio.io/scrape-targets", f"{'1' * 5000}:/metrics"),
        ("status.sidecar.istio.io/port", "1" * 5000),
    ],
)
def test_a_number_too_long_for_int_is_refused_naming_the_annotation(
    annotation: str, value: str
) -> None:
    response = make_handler(default)(request(pod({}, {annotation: value})))
    assert response.allowed is False
    assert response.status is not None
    assert f"for annotation {annotation!r}" in response.status.message


@pytest.mark.parametrize(
    "annotation",
    [
        "traffic.sidecar.istio.io/excludeInboundPorts",
        "traffic.sidecar.istio.io/includeInboundPorts",
        "traffic.sidecar.istio.io/excludeOutboundPorts",
        "traffic.sidecar.istio.io/includeOutboundPorts",
    ],
)
def test_a_port_with_thousands_of_leading_zeros_is_a_port_not_a_500(annotation: str) -> None:
    """A valid port (80) in 5,002 digits: int() refuses it, so it crashed /inject once."""
    response = make_handler(default)(request(pod({}, {annotation: "0" * 5000 + "80"})))
    assert response.allowed is True


def test_a_probe_port_too_long_for_int_is_not_a_crash() -> None:
    probed = {"name": "app", "image": "x", "readinessProbe": {"httpGet": {"port": "1" * 5000}}}
    assert make_handler(default)(request(pod(containers=[probed]))).allowed is True


# docs/injection.md's list, written out: each is named in a warning, and the pod injected.
DOCUMENTED_UNSUPPORTED = [
    "inject.istio.io/templates",
    "proxy.istio.io/overrides",
    "sidecar.istio.io/bootstrapOverride",
    "sidecar.istio.io/proxyImageType",
    "sidecar.istio.io/agentLogLevel",
    "sidecar.istio.io/capNetBindService",
    "sidecar.istio.io/enableCoreDump",
    "sidecar.istio.io/extraStatTags",
    "sidecar.istio.io/statsHistogramBuckets",
    "sidecar.istio.io/statsInclusionPrefixes",
    "sidecar.istio.io/statsInclusionRegexps",
    "sidecar.istio.io/statsInclusionSuffixes",
    "sidecar.istio.io/discoveryAddress",
    "sidecar.istio.io/controlPlaneAuthPolicy",
    "traffic.sidecar.istio.io/kubevirtInterfaces",
    "istio.io/reroute-virtual-interfaces",
]


def test_the_documented_unsupported_annotations_are_the_injectors() -> None:
    """docs/injection.md, this list and the code name the same annotations."""
    assert set(DOCUMENTED_UNSUPPORTED) == UNSUPPORTED_ANNOTATIONS
    docs = (Path(__file__).parents[3] / "docs" / "injection.md").read_text()
    # written whole, or (after the first of a prefix) by its name alone
    missing = [
        key
        for key in DOCUMENTED_UNSUPPORTED
        if f"`{key}`" not in docs and f"`{key.rpartition('/')[2]}`" not in docs
    ]
    assert missing == []


@pytest.mark.parametrize("annotation", DOCUMENTED_UNSUPPORTED)
def test_each_documented_unsupported_annotation_is_named_in_a_warning(annotation: str) -> None:
    response = make_handler(default)(request(pod({}, {annotation: "x"})))
    assert response.patch is not None
    assert response.warnings == [
        f"annotations not supported by mesh-webhooks are ignored: {annotation}"
    ]
