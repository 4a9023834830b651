"""The fast paths: structural sharing with the request pod, per-config defaults, orjson text."""

import argparse
import json
import re
from pathlib import Path
from typing import Any

from tests.unit.inject.factories import every_container, pod, proxy_container as proxy
from webhooks import mesh
from webhooks.admission import responses
from webhooks.admission.review import AdmissionRequest
from webhooks.inject import annotations, command, sidecar
from webhooks.inject.annotations import parse_settings
from webhooks.inject.config import InjectConfig
from webhooks.inject.patch import make_patch
from webhooks.inject.pod import inject_pod

PROBED = {
    "name": "web",
    "image": "example/web",
    "ports": [{"name": "http", "containerPort": 8080}],
    "env": [{"name": "A", "value": "1"}],
    "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5},
    "lifecycle": {"preStop": {"httpGet": {"path": "/stop", "port": 8080}}},
}


def _deep_copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def test_untouched_subtrees_are_shared_and_the_request_pod_is_not_modified() -> None:
    request_pod = pod({"app": "web"}, {"team": "a"}, containers=[PROBED, {"name": "plain"}])
    before = _deep_copy(request_pod)
    injected = inject_pod(request_pod, InjectConfig(), native=False).pod
    assert request_pod == before
    web, plain = injected["spec"]["containers"][:2]
    original_web, original_plain = request_pod["spec"]["containers"]
    assert plain is original_plain  # no probes: nothing to rewrite, nothing copied
    assert web is not original_web
    assert web["ports"] is original_web["ports"]
    assert web["env"] is original_web["env"]
    assert web["readinessProbe"]["httpGet"]["path"] == "/app-health/web/readyz"
    assert original_web["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert original_web["lifecycle"]["preStop"]["httpGet"]["path"] == "/stop"


def test_reinjecting_an_injected_pod_modifies_neither_pod() -> None:
    request_pod = pod({"app": "web"}, {"prometheus.io/port": "8080"}, containers=[PROBED])
    once = inject_pod(request_pod, InjectConfig(), native=True).pod
    once_before, request_before = _deep_copy(once), _deep_copy(request_pod)
    twice = inject_pod(once, InjectConfig(), native=True).pod
    assert twice == once == once_before
    assert request_pod == request_before
    assert make_patch(once, twice) == []


def test_every_tuning_annotation_bypasses_the_shared_defaults() -> None:
    declared = {
        value
        for name, value in vars(annotations).items()
        if name.isupper() and not name.startswith("_") and isinstance(value, str) and "/" in value
    }
    assert declared == annotations.SETTING_ANNOTATIONS


def test_pods_without_tuning_annotations_share_the_parsed_defaults() -> None:
    config = InjectConfig()
    shared = parse_settings({"team": "a"}, config, native=True)
    assert parse_settings({}, config, native=True) is shared
    assert shared == annotations._parse_settings({}, config, native=True)
    assert parse_settings({}, config, native=False).native is False
    assert parse_settings({}, InjectConfig(), native=True) is not shared  # a reloaded config
    tuned = parse_settings({annotations.LOG_LEVEL: "debug"}, config, native=True)
    assert tuned.log_level == "debug"


def test_the_patch_is_encoded_even_with_values_orjson_refuses() -> None:
    operations = [{"op": "add", "path": "/a", "value": {"n": 2**70, "s": "é"}}]
    response = responses.patched(AdmissionRequest(uid="u"), operations)
    assert responses.decoded_patch(response) == operations


def test_the_offline_command_writes_no_yaml_aliases(tmp_path: Path) -> None:
    source = tmp_path / "pod.yaml"
    source.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\n"
        "spec:\n  containers:\n"
        "  - {name: a, image: x, env: &env [{name: A, value: '1'}]}\n"
        "  - {name: b, image: x, env: *env}\n"
    )
    output = tmp_path / "out.yaml"
    parser = argparse.ArgumentParser()
    command.configure(parser)
    assert command.run(parser.parse_args(["-f", str(source), "-o", str(output)])) == 0
    text = output.read_text()
    assert not re.search(r"[&*]id\d+", text)
    assert "istio-proxy" in text


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container["env"]}


def test_pods_share_the_sidecar_parts_but_not_each_others_env() -> None:
    config = InjectConfig()
    settings = parse_settings({}, config, native=False)
    shared = sidecar.parts(config, settings)
    before = _deep_copy((shared.proxy, shared.init, shared.volumes))
    probed = inject_pod(pod({"app": "a"}, containers=[PROBED]), config, native=False).pod
    plain = inject_pod(pod({"app": "b"}), config, native=False).pod
    scraped = pod({"app": "c"}, {"prometheus.io/port": "9100"}, containers=[{"name": "m"}])
    merged = inject_pod(scraped, config, native=False).pod
    again = inject_pod(probed, config, native=False).pod  # strips, then injects again
    assert [shared.proxy, shared.init, list(shared.volumes)] == before
    assert proxy(plain) is shared.proxy  # nothing per pod: the whole container is shared
    assert plain["spec"]["initContainers"][0] is shared.init
    assert set(_env(proxy(probed))) - set(_env(shared.proxy)) == {"ISTIO_KUBE_APP_PROBERS"}
    assert set(_env(proxy(merged))) - set(_env(shared.proxy)) == {"ISTIO_PROMETHEUS_ANNOTATIONS"}
    assert "/app-health/web/readyz" in _env(proxy(probed))["ISTIO_KUBE_APP_PROBERS"]
    assert again == probed


def test_pods_with_tuning_annotations_get_their_own_parts() -> None:
    config = InjectConfig()
    tuned = inject_pod(pod({}, {annotations.LOG_LEVEL: "debug"}), config, native=True).pod
    plain = inject_pod(pod({}), config, native=True).pod
    assert _env(proxy(tuned))[mesh.PROXY_LOG_LEVEL_ENV] == "debug"
    assert _env(proxy(plain))[mesh.PROXY_LOG_LEVEL_ENV] != "debug"
    assert proxy(tuned) is not proxy(plain)
    assert proxy(plain) is sidecar.parts(config, parse_settings({}, config, native=True)).proxy
    assert tuned["spec"]["initContainers"][1]["restartPolicy"] == "Always"


def test_a_pod_without_containers_is_injected_in_both_layouts() -> None:
    for native in (True, False):
        bare = pod({})
        del bare["spec"]["containers"]
        injected = inject_pod(bare, InjectConfig(), native=native).pod
        assert any(c["name"] == "istio-proxy" for c in every_container(injected))
