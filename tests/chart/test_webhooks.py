"""The webhook configurations route pods like Istio's, and never carry what Helm must not own."""

from typing import Any

import helm_python as helm
import pytest

from tests.chart.conftest import one
from tests.chart.render import CHART, NAMESPACE, Document, render
from tests.labels import selects
from webhooks import yamlio
from webhooks.inject.config import InjectConfig

INJECTION_ENTRY_KEYS = {
    "admissionReviewVersions": ["v1"],
    "sideEffects": "None",
    "matchPolicy": "Equivalent",
    "reinvocationPolicy": "IfNeeded",
    "failurePolicy": "Fail",
    "timeoutSeconds": 10,
}


def _called(
    configuration: dict[str, Any], namespace: str, ns_labels: dict[str, str], pod: dict[str, str]
) -> list[str]:
    ns_labels = {"kubernetes.io/metadata.name": namespace, **ns_labels}
    return [
        webhook["name"]
        for webhook in configuration["webhooks"]
        if selects(webhook.get("namespaceSelector"), ns_labels)
        and selects(webhook.get("objectSelector"), pod)
    ]


def _injecting(
    releases: dict[str, dict[str, Any]], ns_labels: dict[str, str], pod_labels: dict[str, str]
) -> list[str]:
    """The releases whose injector the apiserver calls for a pod in namespace "app"; none twice."""
    called = {rev: _called(mwc, "app", ns_labels, pod_labels) for rev, mwc in releases.items()}
    assert all(len(names) <= 1 for names in called.values()), called  # never injected twice
    return [rev for rev, names in called.items() if names]


@pytest.fixture(scope="module")
def injectors() -> dict[str, dict[str, Any]]:
    return {
        "default": one(render(), "MutatingWebhookConfiguration"),
        "canary": one(render({"revision": "canary"}), "MutatingWebhookConfiguration"),
    }


# (namespace labels, pod labels, the revision that injects or None), after Istio's
# TestWebhookSelector truth table.
CASES = [
    ({"istio-injection": "enabled"}, {}, "default"),
    ({"istio-injection": "enabled"}, {"istio.io/rev": "canary"}, "default"),
    ({"istio-injection": "enabled", "istio.io/rev": "canary"}, {}, "default"),
    ({"istio-injection": "enabled"}, {"sidecar.istio.io/inject": "false"}, None),
    ({"istio-injection": "disabled"}, {"sidecar.istio.io/inject": "true"}, None),
    ({"istio-injection": "disabled"}, {"istio.io/rev": "canary"}, None),
    ({"istio.io/rev": "canary"}, {}, "canary"),
    ({"istio.io/rev": "canary"}, {"sidecar.istio.io/inject": "false"}, None),
    ({"istio.io/rev": "default"}, {}, "default"),
    ({"istio.io/rev": "nonexistent"}, {}, None),
    ({}, {}, None),
    ({}, {"istio.io/rev": "canary"}, "canary"),
    ({}, {"istio.io/rev": "default"}, "default"),
    ({}, {"sidecar.istio.io/inject": "true"}, "default"),
    ({}, {"sidecar.istio.io/inject": "true", "istio.io/rev": "canary"}, "canary"),
]


@pytest.mark.parametrize(("ns_labels", "pod_labels", "expected"), CASES)
def test_injection_routing_matches_istio(
    injectors: dict[str, dict[str, Any]],
    ns_labels: dict[str, str],
    pod_labels: dict[str, str],
    expected: str | None,
) -> None:
    assert _injecting(injectors, ns_labels, pod_labels) == ([expected] if expected else [])


@pytest.fixture(scope="module")
def tagged() -> dict[str, dict[str, Any]]:
    """A default release tagged `blue` and a canary release tagged `prod-stable` and `green`,
    side by side: what `istioctl tag set` sets up with revision-tag webhooks."""
    return {
        "default": one(render({"revisionTags": ["blue"]}), "MutatingWebhookConfiguration"),
        "canary": one(
            render({"revision": "canary", "revisionTags": ["prod-stable", "green"]}),
            "MutatingWebhookConfiguration",
        ),
    }


TAG_CASES = [
    *CASES,
    ({"istio.io/rev": "prod-stable"}, {}, "canary"),
    ({"istio.io/rev": "green"}, {}, "canary"),
    ({"istio.io/rev": "blue"}, {}, "default"),
    ({}, {"istio.io/rev": "prod-stable"}, "canary"),
    ({}, {"istio.io/rev": "blue"}, "default"),
    ({}, {"sidecar.istio.io/inject": "true", "istio.io/rev": "prod-stable"}, "canary"),
    ({"istio.io/rev": "prod-stable"}, {"sidecar.istio.io/inject": "false"}, None),
    ({"istio-injection": "enabled", "istio.io/rev": "prod-stable"}, {}, "default"),
    ({"istio-injection": "enabled"}, {"istio.io/rev": "prod-stable"}, "default"),
    ({"istio-injection": "disabled"}, {"istio.io/rev": "prod-stable"}, None),
    ({"istio.io/rev": "red"}, {}, None),
]


@pytest.mark.parametrize(("ns_labels", "pod_labels", "expected"), TAG_CASES)
def test_revision_tags_route_to_their_revision(
    tagged: dict[str, dict[str, Any]],
    ns_labels: dict[str, str],
    pod_labels: dict[str, str],
    expected: str | None,
) -> None:
    assert _injecting(tagged, ns_labels, pod_labels) == ([expected] if expected else [])


def test_a_named_revision_validates_the_objects_of_its_tags() -> None:
    documents = render({"revision": "canary", "revisionTags": ["prod-stable"]})
    selector = one(documents, "ValidatingWebhookConfiguration")["webhooks"][0]["objectSelector"]
    assert selects(selector, {"istio.io/rev": "canary"})
    assert selects(selector, {"istio.io/rev": "prod-stable"})
    assert not selects(selector, {"istio.io/rev": "default"})
    assert not selects(selector, {})


def test_no_tags_and_a_tag_equal_to_the_revision_render_alike() -> None:
    plain = render({"revision": "canary"})
    assert render({"revision": "canary", "revisionTags": ["canary"]}) == plain


@pytest.fixture(scope="module")
def default_tagged() -> dict[str, Any]:
    """A canary release tagged `default`, alone: `istioctl tag set default --revision canary`."""
    return one(
        render({"revision": "canary", "revisionTags": ["default"]}),
        "MutatingWebhookConfiguration",
    )


@pytest.mark.parametrize(("ns_labels", "pod_labels", "expected"), CASES)
def test_the_default_tag_makes_a_named_revision_answer_as_the_default(
    default_tagged: dict[str, Any],
    ns_labels: dict[str, str],
    pod_labels: dict[str, str],
    expected: str | None,
) -> None:
    """What the default revision or the canary injected above, the tagged canary injects alone."""
    called = _called(default_tagged, "app", ns_labels, pod_labels)
    assert len(called) == (expected is not None), called


def test_the_default_tag_validates_every_object_under_istios_default_name() -> None:
    documents = render({"revision": "canary", "revisionTags": ["default"]})
    [webhook] = one(documents, "ValidatingWebhookConfiguration")["webhooks"]
    assert webhook["name"] == "validation.istio.io"
    assert "objectSelector" not in webhook
    mwc = one(documents, "MutatingWebhookConfiguration")
    assert mwc["metadata"]["name"] == "mesh-webhooks-sidecar-injector-canary"
    auto = render(
        {
            "revision": "canary",
            "revisionTags": ["default"],
            "webhook": {"injection": {"enableNamespacesByDefault": True}},
        }
    )
    assert _called(one(auto, "MutatingWebhookConfiguration"), "app", {}, {}) == [
        "auto.sidecar-injector.istio.io"
    ]


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (["Prod"], "at '/revisionTags/0'"),
        ([""], "at '/revisionTags/0'"),
        (["-x"], "at '/revisionTags/0'"),
        (["a" * 64], "at '/revisionTags/0'"),
        (["blue", "blue"], "at '/revisionTags'"),
        ("blue", "at '/revisionTags'"),
    ],
)
def test_bad_revision_tags_are_refused_by_the_schema(tags: Any, message: str) -> None:
    with pytest.raises(helm.HelmValuesError) as raised:
        render({"revisionTags": tags})
    assert message in str(raised.value)


# Istio's ignored namespaces (pkg/kube/inject/initializer.go): the injector skips them, so a call
# there could only block the pod when the injector is down.
ISTIO_SYSTEM_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease", "local-path-storage"]


def test_the_chart_excludes_the_namespaces_the_injector_ignores() -> None:
    """The chart's default excludedNamespaces and the injector's ignoredNamespaces are written in
    two places: they must not drift apart."""
    values = yamlio.safe_load((CHART / "values.yaml").read_text())
    excluded = values["webhook"]["injection"]["excludedNamespaces"]
    assert excluded == list(InjectConfig().ignored_namespaces) == ISTIO_SYSTEM_NAMESPACES


@pytest.mark.parametrize("namespace", [NAMESPACE, *ISTIO_SYSTEM_NAMESPACES])
@pytest.mark.parametrize(
    "labels",
    [{"istio-injection": "enabled"}, {"istio.io/rev": "default"}, {"istio.io/rev": "canary"}],
)
def test_own_and_system_namespaces_are_never_sent_to_the_injector(
    injectors: dict[str, dict[str, Any]], namespace: str, labels: dict[str, str]
) -> None:
    pod = {"sidecar.istio.io/inject": "true"}
    assert all(not _called(mwc, namespace, labels, pod) for mwc in injectors.values())


def test_enable_namespaces_by_default_injects_unlabelled_namespaces() -> None:
    values = {"webhook": {"injection": {"enableNamespacesByDefault": True}}}
    mwc = one(render(values), "MutatingWebhookConfiguration")
    assert _called(mwc, "app", {}, {}) == ["auto.sidecar-injector.istio.io"]
    assert _called(mwc, "app", {}, {"sidecar.istio.io/inject": "false"}) == []
    assert _called(mwc, "kube-system", {}, {}) == []


@pytest.mark.parametrize("namespace", ISTIO_SYSTEM_NAMESPACES)
def test_enable_namespaces_by_default_always_skips_istios_system_namespaces(
    namespace: str,
) -> None:
    # Istio's auto entry hard-codes these four (istio-discovery mutatingwebhook.yaml), so
    # emptying excludedNamespaces must not send the control plane's pods to the injector.
    values = {
        "webhook": {"injection": {"enableNamespacesByDefault": True, "excludedNamespaces": []}}
    }
    mwc = one(render(values), "MutatingWebhookConfiguration")
    assert _called(mwc, namespace, {}, {}) == []
    assert _called(mwc, "app", {}, {}) == ["auto.sidecar-injector.istio.io"]
    # the opt-in entries follow excludedNamespaces alone
    assert _called(mwc, namespace, {"istio-injection": "enabled"}, {}) == [
        "namespace.sidecar-injector.istio.io"
    ]


def test_injection_entries_carry_the_admission_contract(injectors: dict[str, Any]) -> None:
    for mwc in injectors.values():
        for webhook in mwc["webhooks"]:
            assert {k: webhook[k] for k in INJECTION_ENTRY_KEYS} == INJECTION_ENTRY_KEYS
            assert webhook["rules"] == [
                {
                    "operations": ["CREATE"],
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "resources": ["pods"],
                }
            ]
            assert webhook["clientConfig"] == {
                "service": {
                    "name": "mesh-webhooks",
                    "namespace": NAMESPACE,
                    "path": "/inject",
                    "port": 443,
                }
            }


def test_validation_covers_the_mesh_groups_and_starts_at_ignore() -> None:
    vwc = one(render(), "ValidatingWebhookConfiguration")
    assert vwc["metadata"]["name"] == "mesh-webhooks-validator"
    [webhook] = vwc["webhooks"]
    assert webhook["name"] == "validation.istio.io"
    assert "objectSelector" not in webhook  # the default revision validates everything
    assert webhook["failurePolicy"] == "Ignore"
    assert webhook["sideEffects"] == "None"
    assert webhook["matchPolicy"] == "Equivalent"
    assert webhook["admissionReviewVersions"] == ["v1"]
    assert webhook["timeoutSeconds"] == 10
    [rule] = webhook["rules"]
    assert sorted(rule["apiGroups"]) == [
        "extensions.istio.io",
        "networking.istio.io",
        "security.istio.io",
        "telemetry.istio.io",
    ]
    assert rule["operations"] == ["CREATE", "UPDATE"]
    assert webhook["clientConfig"]["service"]["path"] == "/validate"


def _configurations(documents: list[Document]) -> list[dict[str, Any]]:
    kinds = {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
    return [d.obj for d in documents if d.kind in kinds]


def test_url_mode_points_both_configurations_outside_the_cluster() -> None:
    bundle = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="
    documents = render({"webhook": {"url": "https://127.0.0.1:8443/", "caBundle": bundle}})
    urls = {
        webhook["clientConfig"]["url"]
        for configuration in _configurations(documents)
        for webhook in configuration["webhooks"]
    }
    assert urls == {"https://127.0.0.1:8443/inject", "https://127.0.0.1:8443/validate"}
    assert {d.kind for d in documents} == {
        "ConfigMap",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    }


def test_cert_manager_mode_injects_the_ca_into_both_configurations() -> None:
    documents = render({"certificates": {"mode": "cert-manager"}})
    for configuration in _configurations(documents):
        annotations = configuration["metadata"]["annotations"]
        assert annotations == {"cert-manager.io/inject-ca-from": f"{NAMESPACE}/mesh-webhooks-tls"}
    certificate = next(
        d.obj for d in documents if d.kind == "Certificate" and d.name == "mesh-webhooks-tls"
    )
    assert certificate["spec"]["secretName"] == "mesh-webhooks-tls"
    assert f"mesh-webhooks.{NAMESPACE}.svc" in certificate["spec"]["dnsNames"]
    args = one(documents, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--cert-mode=cert-manager" in args
    assert "--tls-cert-file=/etc/mesh-webhooks/tls/tls.crt" in args


def test_revision_names_the_configurations_and_validates_only_its_objects() -> None:
    documents = render({"revision": "canary"})
    vwc = one(documents, "ValidatingWebhookConfiguration")
    assert vwc["metadata"]["name"] == "mesh-webhooks-validator-canary"
    assert vwc["webhooks"][0]["name"] == "rev.validation.istio.io"
    assert selects(vwc["webhooks"][0]["objectSelector"], {"istio.io/rev": "canary"})
    assert not selects(vwc["webhooks"][0]["objectSelector"], {})
    mwc = one(documents, "MutatingWebhookConfiguration")
    assert mwc["metadata"]["name"] == "mesh-webhooks-sidecar-injector-canary"
    # Not labelled istio.io/rev: istiod's caBundle patcher selects its configurations by it,
    # and one still running during a migration would write its CA into ours.
    assert "istio.io/rev" not in mwc["metadata"]["labels"]
    assert "istio.io/rev" not in vwc["metadata"]["labels"]
    assert one(documents, "Deployment")["metadata"]["labels"]["istio.io/rev"] == "canary"


@pytest.mark.parametrize("upgrade", [False, True])
@pytest.mark.parametrize(
    ("validation", "rendered"),
    [({}, "Ignore"), ({"failClosed": False}, "Ignore"), ({"failurePolicy": "Fail"}, "Fail")],
)
def test_the_failure_policy_is_rendered_on_install_and_upgrade(
    validation: dict[str, Any], rendered: str, upgrade: bool
) -> None:
    """Always rendered: an upgrade re-renders Ignore and the server flips it back within a
    poll. Omitting it on upgrade (Istio's chart) would make a configuration that the upgrade
    creates or renames Fail with no caBundle, refusing every Istio config write."""
    documents = render({"webhook": {"validation": validation}}, upgrade=upgrade)
    [webhook] = one(documents, "ValidatingWebhookConfiguration")["webhooks"]
    assert webhook["failurePolicy"] == rendered
    [injector, *_] = one(documents, "MutatingWebhookConfiguration")["webhooks"]
    assert injector["failurePolicy"] == "Fail"
