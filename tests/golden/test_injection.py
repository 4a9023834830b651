"""Golden injection cases: injection/<case>.yaml [+ <case>.config.yaml] -> <case>.injected.yaml.

Each case also checks, for every pod it injects, the Kubernetes Pod schema (strict), that the
webhook's patch turns the request pod into exactly the injected pod, and that injecting the
injected pod changes nothing. `pytest --update-goldens` rewrites the .injected.yaml files.
"""

from pathlib import Path
from typing import Any

import jsonpatch
import kubernetes_validate
import pytest
import yaml

from tests.goldens import Golden
from webhooks.inject import config as inject_config
from webhooks.inject.command import TEMPLATE_PATHS
from webhooks.inject.handler import Outcome, process

CASES_DIR = Path(__file__).parent / "injection"
CASES = sorted(
    path.name.removesuffix(".yaml")
    for path in CASES_DIR.glob("*.yaml")
    if not path.name.endswith((".config.yaml", ".injected.yaml"))
)
KUBE_SCHEMA_VERSION = "1.37.0"  # the newest kubernetes-validate ships


def load_case(case: str) -> tuple[list[Any], inject_config.InjectConfig]:
    documents = list(yaml.safe_load_all((CASES_DIR / f"{case}.yaml").read_text()))
    assert documents, f"{case}.yaml has no documents: the per-document checks would check nothing"
    config_path = CASES_DIR / f"{case}.config.yaml"
    config = inject_config.load_config(config_path) if config_path.exists() else None
    return documents, config or inject_config.default_config()


def pod_of(document: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The pod (or pod template) of a workload document, and the workload's name."""
    if document["kind"] == "Pod":
        return document, ""
    template = document
    for key in TEMPLATE_PATHS[document["kind"]]:
        template = template[key]
    return template, document["metadata"]["name"]


def as_pod(template: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", **template}


def outcome_of(
    document: dict[str, Any], config: inject_config.InjectConfig, pod: dict[str, Any] | None = None
) -> tuple[dict[str, Any], Outcome]:
    """The request pod of one document (its pod or template, or `pod` standing in for it) and
    what the webhook makes of it."""
    template, workload = pod_of(document)
    pod = template if pod is None else pod
    namespace = document["metadata"].get("namespace", "default")
    native = inject_config.resolve_native_sidecars(config.native_sidecars, None)
    return pod, process(pod, namespace, config, native, workload)


def inject(
    document: dict[str, Any], config: inject_config.InjectConfig, pod: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The injected pod (or template) of one document, as the webhook would produce it."""
    pod, outcome = outcome_of(document, config, pod)
    return outcome.injection.pod if outcome.injection else pod


def with_template(document: dict[str, Any], pod: dict[str, Any]) -> dict[str, Any]:
    """The document with its pod (template) replaced, as `mesh-webhooks inject` prints it."""
    if document["kind"] == "Pod":
        return pod
    *parents, last = TEMPLATE_PATHS[document["kind"]]
    copy = yaml.safe_load(yaml.safe_dump(document))
    holder = copy
    for key in parents:
        holder = holder[key]
    holder[last] = pod
    return copy


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES)
def test_injection_matches_golden(case: str, golden: Golden) -> None:
    documents, config = load_case(case)
    output = [with_template(document, inject(document, config)) for document in documents]
    golden.check_yaml(output, CASES_DIR / f"{case}.injected.yaml")


@pytest.mark.parametrize("case", CASES)
def test_injected_pods_are_valid_kubernetes_pods(case: str) -> None:
    documents, config = load_case(case)
    for document in documents:
        pod = as_pod(inject(document, config))
        kubernetes_validate.validate(pod, KUBE_SCHEMA_VERSION, strict=True)


@pytest.mark.parametrize("case", CASES)
def test_patch_turns_the_request_pod_into_the_injected_pod(case: str) -> None:
    documents, config = load_case(case)
    for document in documents:
        pod, outcome = outcome_of(document, config)
        if outcome.injection is None:
            continue
        operations = outcome.injection.patch
        assert {operation["op"] for operation in operations} <= {"add", "remove", "replace"}
        assert jsonpatch.apply_patch(pod, operations) == outcome.injection.pod


@pytest.mark.parametrize("case", CASES)
def test_injecting_an_injected_pod_changes_nothing(case: str) -> None:
    documents, config = load_case(case)
    for document in documents:
        once = inject(document, config)
        assert inject(document, config, once) == once
