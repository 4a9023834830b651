"""The chart renders, lints clean and produces objects Kubernetes' own schemas accept."""

from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from tests.chart.conftest import KUBE_VERSION, SCENARIOS
from tests.chart.render import CHART, NAMESPACE, Document, render
from tests.goldens import Golden

GOLDENS = Path(__file__).parent / "goldens"
CERT_MANAGER_KINDS = {"Certificate", "Issuer"}  # CRDs: kubernetes-validate has no schema


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_render_matches_golden(
    scenario: str, rendered: dict[str, list[Document]], golden: Golden
) -> None:
    golden.check_yaml(
        [document.obj for document in rendered[scenario]], GOLDENS / f"{scenario}.yaml"
    )


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_object_passes_the_kubernetes_schema(
    scenario: str, rendered: dict[str, list[Document]]
) -> None:
    failures = []
    for document in rendered[scenario]:
        if document.kind in CERT_MANAGER_KINDS:
            assert document.obj["apiVersion"] == "cert-manager.io/v1"
            continue
        try:
            kubernetes_validate.validate(document.obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            failures.append(f"{document.kind}/{document.name}: {str(error).splitlines()[0]}")
    assert not failures, "\n".join(failures)


def test_the_schema_check_can_fail() -> None:
    """The strict check above rejects an unknown field, so passing it means something."""
    deployment = next(d.obj for d in render() if d.kind == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_helm_lint_is_clean(scenario: str) -> None:
    report = helm.lint(CHART, SCENARIOS[scenario], strict=True, namespace=NAMESPACE)
    assert report["errors"] == []
    assert report["messages"] == []


def test_objects_are_namespaced_in_the_release_namespace() -> None:
    cluster_scoped = {
        "ClusterRole",
        "ClusterRoleBinding",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    }
    for document in render(namespace="mesh"):
        if document.kind in cluster_scoped:
            assert "namespace" not in document.obj["metadata"]
        else:
            assert document.obj["metadata"]["namespace"] == "mesh", document.name


def test_chart_crds_are_valid_custom_resource_definitions() -> None:
    files = sorted((CHART / "crds").glob("*.yaml"))
    if not files:
        pytest.skip("charts/mesh-webhooks/crds/ is not generated yet (make crds)")
    for path in files:
        for crd in yaml.safe_load_all(path.read_text()):
            if crd:
                kubernetes_validate.validate(crd, KUBE_VERSION, strict=True)
                assert crd["spec"]["group"].endswith(".istio.io"), path.name


def test_chart_icon_is_a_file_of_this_repository() -> None:
    prefix = "https://raw.githubusercontent.com/mesh-webhooks/mesh-webhooks/main/"
    icon = yaml.safe_load((CHART / "Chart.yaml").read_text())["icon"]
    assert icon.startswith(prefix)
    path = CHART.parents[1] / icon.removeprefix(prefix)
    assert path.is_file(), f"Chart.yaml icon {icon}: {path} does not exist"
    assert path.read_text().lstrip().startswith("<svg")
