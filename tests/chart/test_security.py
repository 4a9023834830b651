"""Security properties of every render: no secrets, the restricted profile, least-privilege RBAC."""

from typing import Any

import pytest

from tests.chart.conftest import SCENARIOS, objects, one
from tests.chart.render import Document, render
from webhooks.cli import build_parser

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


def test_rbac_names_exactly_the_release_objects() -> None:
    documents = render()
    named = {
        (resource, name)
        for role in objects(documents, "ClusterRole") + objects(documents, "Role")
        for rule in role["rules"]
        for resource in rule["resources"]
        for name in rule.get("resourceNames", [])
    }
    assert named == {
        ("secrets", "mesh-webhooks-ca"),
        ("mutatingwebhookconfigurations", "mesh-webhooks-sidecar-injector"),
        ("validatingwebhookconfigurations", "mesh-webhooks-validator"),
    }
    cert_manager = render({"certificates": {"mode": "cert-manager"}})
    assert _grants(cert_manager, "Role") == {("networking.istio.io", "gateways", "create")}
    assert ("networking.istio.io", "gateways", "create") not in _grants(documents, "ClusterRole")


def _grants(documents: list[Document], kind: str) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for role in objects(documents, kind)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


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
    scenario: str, rendered: dict[str, list[Document]]
) -> None:
    [container] = one(rendered[scenario], "Deployment")["spec"]["template"]["spec"]["containers"]
    argv = container["args"]
    args = build_parser(argv).parse_args(argv)
    assert args.command == "serve"
    assert args.cert_mode == SCENARIOS[scenario].get("certificates", {}).get("mode", "self")
    assert args.fail_closed is (scenario != "everything-on")
    if args.cert_mode != "self":
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert args.tls_cert_file.parent.as_posix() in mounts
