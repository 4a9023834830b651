"""Security properties of every render: no secrets, the restricted profile, least-privilege RBAC."""

from typing import Any

import helm_python as helm
import pytest

from tests.chart.conftest import SCENARIOS, objects, one
from tests.chart.render import Document, render
from webhooks.cli import build_parser
from webhooks.server.command import fail_closed_settings

# Kubernetes cannot scope these by resourceNames: the name is not part of a create request.
UNSCOPABLE = {("", "secrets", "create"), ("networking.istio.io", "gateways", "create")}
USER_BUNDLE_SCENARIOS = {"external", "url"}


def _walk(value: Any, path: str = "") -> list[tuple[str, Any]]:
    found = [(path, value)]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _walk(child, f"{path}.{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _walk(child, f"{path}[{index}]")
    return found


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_no_ca_bundle_unless_the_user_supplied_it(
    scenario: str, rendered: dict[str, list[Document]]
) -> None:
    supplied = SCENARIOS[scenario].get("webhook", {}).get("caBundle")
    for document in rendered[scenario]:
        bundles = [v for path, v in _walk(document.obj) if path.endswith(".caBundle")]
        if scenario in USER_BUNDLE_SCENARIOS and document.kind.endswith("WebhookConfiguration"):
            assert bundles
            assert set(bundles) == {supplied}
        else:
            assert bundles == [], f"{document.kind}/{document.name} renders a caBundle"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_no_private_key_or_secret_is_rendered(
    scenario: str, rendered: dict[str, list[Document]]
) -> None:
    for document in rendered[scenario]:
        assert document.kind != "Secret"
        assert "PRIVATE KEY" not in document.text
        keys = [path for path, _ in _walk(document.obj) if path.endswith(("tls.key", ".key.pem"))]
        assert keys == [], keys


def test_a_ca_bundle_outside_external_or_url_mode_is_refused() -> None:
    with pytest.raises(Exception, match="caBundle is only used with"):
        render({"webhook": {"caBundle": "QUJD"}})


@pytest.mark.parametrize("scenario", sorted(set(SCENARIOS) - {"url"}))
def test_server_pod_meets_the_restricted_pod_security_profile(
    scenario: str, rendered: dict[str, list[Document]]
) -> None:
    pod = one(rendered[scenario], "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
    for volume in pod["volumes"]:
        assert set(volume) & {"configMap", "secret", "emptyDir"}, volume  # no hostPath
    for container in pod["containers"] + pod.get("initContainers", []):
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context.get("privileged") is not True
        assert "ports" not in container or all("hostPort" not in p for p in container["ports"])


@pytest.mark.parametrize("scenario", sorted(set(SCENARIOS) - {"url"}))
def test_rbac_is_scoped_by_name_wherever_kubernetes_allows(
    scenario: str, rendered: dict[str, list[Document]]
) -> None:
    roles = objects(rendered[scenario], "ClusterRole") + objects(rendered[scenario], "Role")
    assert roles
    for role in roles:
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"]
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        if (group, resource, verb) not in UNSCOPABLE:
                            assert rule.get("resourceNames"), (role["kind"], rule)


Grant = tuple[str, str, str, str, tuple[str, ...]]  # kind, group, resource, verb, names
ADMISSION = "admissionregistration.k8s.io"
MUTATING = "mesh-webhooks-sidecar-injector"
VALIDATING = "mesh-webhooks-validator"
SELF_TEST = ("Role", "networking.istio.io", "gateways", "create", ())
FLIP = {
    ("ClusterRole", ADMISSION, "validatingwebhookconfigurations", verb, (VALIDATING,))
    for verb in ("get", "patch")
}
CA_BUNDLE = {
    ("ClusterRole", ADMISSION, "mutatingwebhookconfigurations", verb, (MUTATING,))
    for verb in ("get", "patch")
}
CA_SECRET = {
    ("Role", "", "secrets", "get", ("mesh-webhooks-ca",)),
    ("Role", "", "secrets", "update", ("mesh-webhooks-ca",)),
    ("Role", "", "secrets", "create", ()),
}
SELF_MODE = CA_SECRET | CA_BUNDLE | FLIP
CERT_MANAGER = {"certificates": {"mode": "cert-manager"}}
EXTERNAL = {
    "certificates": {"mode": "external", "external": {"secretName": "my-tls"}},
    "webhook": {"caBundle": "QUJD"},
}
OPEN = {"validation": {"failClosed": False}}
NO_VALIDATION = {"validation": {"enabled": False}}
RBAC_CASES: dict[str, tuple[dict[str, Any], set[Grant]]] = {
    "self": ({}, SELF_MODE | {SELF_TEST}),
    "self-open": ({"webhook": OPEN}, SELF_MODE),
    "self-no-validation": ({"webhook": NO_VALIDATION}, CA_SECRET | CA_BUNDLE),
    "self-no-injection": (
        {"webhook": {"injection": {"enabled": False}}},
        CA_SECRET | FLIP | {SELF_TEST},
    ),
    "cert-manager": (CERT_MANAGER, FLIP | {SELF_TEST}),
    "external": (EXTERNAL, FLIP | {SELF_TEST}),
    "cert-manager-open": ({**CERT_MANAGER, "webhook": OPEN}, set()),
    "external-open": ({**EXTERNAL, "webhook": {"caBundle": "QUJD", **OPEN}}, set()),
    "cert-manager-no-validation": ({**CERT_MANAGER, "webhook": NO_VALIDATION}, set()),
}


def _rbac(documents: list[Document]) -> set[Grant]:
    return {
        (role["kind"], group, resource, verb, tuple(rule.get("resourceNames", ())))
        for role in objects(documents, "ClusterRole") + objects(documents, "Role")
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


@pytest.mark.parametrize("case", sorted(RBAC_CASES))
def test_rbac_grants_exactly_what_the_server_calls_in_each_mode(case: str) -> None:
    values, grants = RBAC_CASES[case]
    documents = render(values)
    assert _rbac(documents) == grants
    for kind in ("ClusterRole", "Role"):  # a binding exactly when there is something to bind
        assert len(objects(documents, kind)) == len(objects(documents, f"{kind}Binding"))
        assert len(objects(documents, kind)) == int(any(g[0] == kind for g in grants))


def test_rbac_names_follow_the_release_and_revision() -> None:
    names = {g[4] for g in _rbac(render({"revision": "canary"}, name="mesh")) if g[4]}
    assert names == {("mesh-ca",), ("mesh-sidecar-injector-canary",), ("mesh-validator-canary",)}


def test_the_server_pod_drains_and_probes_over_https() -> None:
    documents = render()
    deployment = one(documents, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    sleep = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert 0 < sleep < pod["terminationGracePeriodSeconds"]
    assert container["readinessProbe"]["httpGet"] == {
        "path": "/readyz",
        "port": "https",
        "scheme": "HTTPS",
    }
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert pod["affinity"]["podAntiAffinity"]
    assert (
        pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"]
        == (deployment["spec"]["selector"]["matchLabels"])
    )
    assert deployment["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] == (
        "false"
    )
    service = one(documents, "Service")
    assert service["spec"]["ports"] == [
        {"name": "https-webhook", "port": 443, "targetPort": "https", "protocol": "TCP"}
    ]
    assert container["ports"][0] == {"name": "https", "containerPort": 9443, "protocol": "TCP"}
    pdb = one(documents, "PodDisruptionBudget")
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]


def test_the_server_runs_the_agreed_command_line() -> None:
    pod = one(render(), "Deployment")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["command"] == ["mesh-webhooks"]
    assert container["args"] == [
        "--log-level=info",
        "serve",
        "--port=9443",
        "--cert-mode=self",
        "--namespace=istio-system",
        "--revision=default",
        "--service=mesh-webhooks",
        "--ca-secret=mesh-webhooks-ca",
        "--mutating-webhook-config=mesh-webhooks-sidecar-injector",
        "--validating-webhook-config=mesh-webhooks-validator",
        "--inject-config=/etc/mesh-webhooks/inject/config.yaml",
    ]
    env = {
        e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        for e in container["env"]
    }
    assert env["POD_NAME"] == "metadata.name"
    assert env["POD_NAMESPACE"] == "metadata.namespace"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts["/etc/mesh-webhooks/inject"] == "inject-config"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["inject-config"]["configMap"]["name"] == "mesh-webhooks-inject"
    assert volumes[mounts["/tmp"]]["emptyDir"]["medium"] == "Memory"


def test_hpa_replaces_the_fixed_replica_count() -> None:
    documents = render({"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 7}})
    assert "replicas" not in one(documents, "Deployment")["spec"]
    hpa = one(documents, "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 7)
    assert hpa["spec"]["scaleTargetRef"]["name"] == "mesh-webhooks"


def test_network_policy_admits_only_the_apiserver_and_prometheus() -> None:
    values = {"networkPolicy": {"enabled": True, "apiserverCIDRs": ["10.0.0.0/8", "172.16.0.1/32"]}}
    policy = one(render(values), "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    [rule] = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "https", "protocol": "TCP"}]
    peers = rule["from"]
    assert [p["ipBlock"]["cidr"] for p in peers if "ipBlock" in p] == [
        "10.0.0.0/8",
        "172.16.0.1/32",
    ]
    [prometheus] = [p for p in peers if "podSelector" in p]
    assert prometheus["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
    assert "namespaceSelector" in prometheus


@pytest.mark.parametrize("scenario", sorted(set(SCENARIOS) - {"url"}))
def test_the_rendered_command_line_parses_with_the_real_cli(
    scenario: str, rendered: dict[str, list[Document]], monkeypatch: pytest.MonkeyPatch
) -> None:
    [container] = one(rendered[scenario], "Deployment")["spec"]["template"]["spec"]["containers"]
    argv = container["args"]
    args = build_parser(argv).parse_args(argv)
    assert args.command == "serve"
    assert args.cert_mode == SCENARIOS[scenario].get("certificates", {}).get("mode", "self")
    assert args.fail_closed is (scenario != "everything-on")
    assert args.namespace == "istio-system"
    # the self-test's Gateway must carry the revision its validating webhook selects
    assert args.revision == ("canary" if scenario == "revision" else "default")
    suffix = "-canary" if scenario == "revision" else ""
    assert args.validating_webhook_config == f"mesh-webhooks-validator{suffix}"
    if args.cert_mode == "self":
        assert args.mutating_webhook_config == f"mesh-webhooks-sidecar-injector{suffix}"
        return
    # File modes: the mounted pair, and the server's own decision to run the self-test and
    # flip the failurePolicy, exactly when the chart granted the RBAC for it.
    assert args.mutating_webhook_config is None
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert args.tls_cert_file.parent.as_posix() in mounts
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    settings = fail_closed_settings(args)
    assert settings is not None
    assert (settings.namespace, settings.validating_config) == (
        "istio-system",
        "mesh-webhooks-validator",
    )
    assert (
        "ClusterRole",
        ADMISSION,
        "validatingwebhookconfigurations",
        "patch",
        (VALIDATING,),
    ) in (_rbac(rendered[scenario]))


def test_file_modes_with_fail_closed_off_pass_no_fail_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = {"certificates": {"mode": "cert-manager"}, "webhook": OPEN}
    [container] = one(render(values), "Deployment")["spec"]["template"]["spec"]["containers"]
    argv = container["args"]
    assert "--no-fail-closed" in argv
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert fail_closed_settings(build_parser(argv).parse_args(argv)) is None


@pytest.mark.parametrize(("sleep", "grace"), [(30, 30), (45, 30), (5, 5), (300, 1)])
def test_a_pre_stop_sleep_not_below_the_grace_period_is_refused(sleep: int, grace: int) -> None:
    values = {"preStopSleepSeconds": sleep, "terminationGracePeriodSeconds": grace}
    with pytest.raises(helm.HelmRenderError) as raised:
        render(values)
    assert (
        f"preStopSleepSeconds ({sleep}) must be smaller than "
        f"terminationGracePeriodSeconds ({grace})"
    ) in str(raised.value)


@pytest.mark.parametrize(("sleep", "grace"), [(0, 1), (29, 30), (60, 90)])
def test_a_pre_stop_sleep_below_the_grace_period_renders(sleep: int, grace: int) -> None:
    values = {"preStopSleepSeconds": sleep, "terminationGracePeriodSeconds": grace}
    pod = one(render(values), "Deployment")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == grace
    if sleep == 0:  # no hook: a zero sleep is refused before Kubernetes 1.33
        assert "lifecycle" not in pod["containers"][0]
    else:
        assert pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"] == sleep


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"replicaCount": 1},
            "podDisruptionBudget.minAvailable (1) must be below replicaCount (1)",
        ),
        (
            {"autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 3}},
            "podDisruptionBudget.minAvailable (1) must be below autoscaling.minReplicas (1)",
        ),
        (
            {"podDisruptionBudget": {"minAvailable": "100%"}},
            "podDisruptionBudget.minAvailable (100%) must be below replicaCount (2)",
        ),
    ],
)
def test_a_disruption_budget_no_eviction_can_meet_is_refused(
    values: dict[str, Any], message: str
) -> None:
    """It would block every node drain: kubectl drain waits forever."""
    with pytest.raises(helm.HelmRenderError) as raised:
        render(values)
    assert message in str(raised.value)
    assert "set podDisruptionBudget.enabled: false" in str(raised.value)


def test_one_replica_renders_without_a_disruption_budget() -> None:
    documents = render({"replicaCount": 1, "podDisruptionBudget": {"enabled": False}})
    assert not [d for d in documents if d.kind == "PodDisruptionBudget"]


def test_the_scrape_port_annotation_follows_the_server_port() -> None:
    annotations = one(render({"port": 8443}), "Deployment")["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert annotations["prometheus.io/port"] == "8443"
    own = {"podAnnotations": {"prometheus.io/port": "9999"}}
    pod = one(render(own), "Deployment")["spec"]["template"]["metadata"]
    assert pod["annotations"]["prometheus.io/port"] == "9999"


def test_revision_default_is_refused_with_what_to_write_instead() -> None:
    with pytest.raises(helm.HelmRenderError) as raised:
        render({"revision": "default"})
    assert 'revision: "default" is the default revision\'s name; leave revision empty' in str(
        raised.value
    )


def test_extra_peers_join_the_network_policy() -> None:
    """konnectivity's agents (or anything an ipBlock cannot name) are let in by selector."""
    konnectivity = {"namespaceSelector": {"matchLabels": {"k": "v"}}, "podSelector": {}}
    values = {
        "networkPolicy": {
            "enabled": True,
            "apiserverCIDRs": ["10.0.0.0/8"],
            "extraFrom": [konnectivity],
        }
    }
    [ingress] = one(render(values), "NetworkPolicy")["spec"]["ingress"]
    assert ingress["from"][0] == {"ipBlock": {"cidr": "10.0.0.0/8"}}
    assert ingress["from"][-1] == konnectivity


def test_an_autoscaler_with_min_above_max_is_refused() -> None:
    with pytest.raises(helm.HelmRenderError) as raised:
        render({"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}})
    assert "autoscaling.minReplicas (5) must not be above autoscaling.maxReplicas (2)" in str(
        raised.value
    )
