"""Self-managed TLS (`serve --cert-mode self`) against the real kube-apiserver.

Replicas run as processes with `--kubeconfig`; the webhook configurations use url clientConfigs
to 127.0.0.1, so the serving certificates carry 127.0.0.1 through `--extra-san`. The mutating
webhook only sees pods labelled NEVER, so probes reach only the replicas under test.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from e2e import mesh
from e2e.conftest import local_only
from e2e.kubectl import Kubectl
from e2e.polling import wait_for
from e2e.processes import ManagedProcess, free_loopback_port, start_process
from tests import servers

pytestmark = pytest.mark.e2e
SERVICE = "mesh-webhooks"
NEVER = {"e2e-certs.mesh-webhooks.test/never": "true"}  # only our probe pods carry it
MUTATING, VALIDATING = "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"


def configuration(kind: str, name: str, namespace: str, url: str) -> dict[str, Any]:
    """Pods labelled NEVER go to /inject (Fail); Gateways in `namespace` to /validate (Ignore)."""
    mutating = kind == MUTATING
    rule = {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"]}
    if not mutating:
        rule = {
            "operations": ["CREATE", "UPDATE"],
            "apiGroups": ["networking.istio.io"],
            "apiVersions": ["*"],
        }
    hook: dict[str, Any] = {
        "name": f"{'inject' if mutating else 'validate'}.certs.e2e.mesh-webhooks.test",
        "clientConfig": {"url": f"{url}/{'inject' if mutating else 'validate'}"},
        "failurePolicy": "Fail" if mutating else "Ignore",
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "rules": [{**rule, "resources": ["pods" if mutating else "gateways"]}],
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
    }
    if mutating:
        hook["objectSelector"] = {"matchLabels": NEVER}
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "webhooks": [hook],
    }


@dataclass
class Cluster:
    """A namespace, two webhook configurations calling `port`, and the replicas started."""

    kubectl: Kubectl
    kubeconfig: Path
    workdir: Path
    namespace: str
    mutating: str
    validating: str
    port: int
    replicas: list[ManagedProcess] = field(default_factory=list)

    def launch(self, port: int, extra: Sequence[str] = ()) -> ManagedProcess:
        argv = [
            sys.executable,
            *("-m", "webhooks", "serve", "--host", "127.0.0.1", "--port", str(port)),
            *("--namespace", self.namespace, "--service", SERVICE),
            *("--kubeconfig", str(self.kubeconfig), "--extra-san", "127.0.0.1"),
            *("--mutating-webhook-config", self.mutating),
            *("--validating-webhook-config", self.validating),
            *("--cabundle-poll-seconds", "0.5", "--ca-check-seconds", "2", *extra),
        ]
        log = self.workdir / f"replica-{len(self.replicas)}.log"
        replica = start_process(f"replica-{len(self.replicas)}", argv, log)
        self.replicas.append(replica)
        return replica

    def wait(self, check: Callable[[], bool], what: str, timeout: float = 40) -> None:
        try:
            wait_for(check, timeout=timeout, description=what)
        except AssertionError as error:
            logs = "\n".join(f"--- {r.name}:\n{r.log_tail()}" for r in self.replicas)
            raise AssertionError(f"{error}\n{logs}") from None

    def ca_pem(self) -> bytes | None:
        result = self.kubectl("get", "secret", f"{SERVICE}-ca", "-n", self.namespace, "-o", "json")
        if result.returncode != 0:
            return None
        return base64.b64decode(json.loads(result.stdout)["data"]["ca.crt"])

    def webhook(self, kind: str) -> dict[str, Any]:
        name = self.mutating if kind == MUTATING else self.validating
        hook: dict[str, Any] = self.kubectl.get_json(kind, name)["webhooks"][0]
        return hook

    def bundle(self, kind: str) -> bytes:
        return base64.b64decode(self.webhook(kind)["clientConfig"].get("caBundle", ""))

    def failure_policy(self) -> str:
        return str(self.webhook(VALIDATING)["failurePolicy"])

    def create_probe_pod(self) -> subprocess.CompletedProcess[str]:
        pod = mesh.sample_pod(self.namespace, f"probe-{uuid.uuid4().hex[:8]}")
        pod["metadata"]["labels"] = NEVER
        return self.kubectl("create", "-o", "json", "-f", "-", input=json.dumps(pod))


@pytest.fixture
def cluster(kubectl: Kubectl, mesh_crds: None, tmp_path: Path) -> Iterator[Cluster]:
    local_only("starting replicas")
    suffix = uuid.uuid4().hex[:6]
    namespace = mesh.unique_namespace(kubectl, f"certs-{suffix}")
    state = Cluster(
        kubectl=kubectl,
        kubeconfig=kubectl.kubeconfig,
        workdir=tmp_path,
        namespace=namespace,
        mutating=f"mw-{suffix}",
        validating=f"vw-{suffix}",
        port=free_loopback_port(),
    )
    url = f"https://127.0.0.1:{state.port}"
    kubectl.apply(configuration(MUTATING, state.mutating, namespace, url))
    kubectl.apply(configuration(VALIDATING, state.validating, namespace, url))
    yield state
    for replica in state.replicas:
        replica.stop()
    kubectl("delete", "mutatingwebhookconfiguration", state.mutating, "--wait=false")
    kubectl("delete", "validatingwebhookconfiguration", state.validating, "--wait=false")


def test_two_replicas_share_one_ca_bundles_follow_and_the_apiserver_calls_us(
    cluster: Cluster,
) -> None:
    assert cluster.failure_policy() == "Ignore"  # as installed
    cluster.launch(cluster.port)
    cluster.launch(free_loopback_port())
    cluster.wait(lambda: cluster.ca_pem() is not None, "the CA Secret")
    ca = cluster.ca_pem()
    assert ca is not None
    cluster.wait(lambda: cluster.bundle(MUTATING) == ca, "the mutating caBundle")
    cluster.wait(lambda: cluster.bundle(VALIDATING) == ca, "the validating caBundle")
    # the self-test's dry-run Gateway is denied by a replica: only then fail closed
    cluster.wait(lambda: cluster.failure_policy() == "Fail", "failurePolicy Fail")
    assert cluster.ca_pem() == ca  # still one CA

    # the real apiserver reaches a replica over TLS, trusting only the caBundle
    cluster.wait(lambda: cluster.create_probe_pod().returncode == 0, "an admitted probe pod", 60)
    injected = json.loads(cluster.create_probe_pod().stdout)
    assert "istio-proxy" in [c["name"] for c in injected["spec"]["initContainers"]]

    # a blanked caBundle comes back within seconds
    cluster.kubectl(
        "patch",
        "validatingwebhookconfiguration",
        cluster.validating,
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/webhooks/0/clientConfig/caBundle","value":"Cg=="}]',
        check=True,
    )
    blanked = time.monotonic()
    cluster.wait(lambda: cluster.bundle(VALIDATING) == ca, "the caBundle restored", 10)
    assert time.monotonic() - blanked < 10


def test_serving_cert_rotation_fails_no_apply(cluster: Cluster) -> None:
    """9 s certificates are renewed every 6 s; pods created meanwhile all pass the Fail hook."""
    cluster.launch(
        cluster.port, ["--serving-cert-validity", "9s", "--serving-cert-check-seconds", "1"]
    )
    cluster.wait(lambda: cluster.ca_pem() is not None, "the CA Secret")
    ca = cluster.ca_pem()
    assert ca is not None
    cluster.wait(lambda: cluster.bundle(MUTATING) == ca, "the mutating caBundle")
    cluster.wait(lambda: cluster.create_probe_pod().returncode == 0, "an admitted probe pod", 60)

    serials = {servers.peer_certificate(cluster.port, ca).serial_number}
    failures: list[str] = []
    applies, started = 0, time.monotonic()
    while time.monotonic() - started < 14 or len(serials) < 3:
        assert time.monotonic() - started < 40, f"only {len(serials)} serving certificates seen"
        result = cluster.create_probe_pod()
        applies += 1
        if result.returncode != 0 or "istio-proxy" not in result.stdout:
            failures.append(result.stderr)
        serials.add(servers.peer_certificate(cluster.port, ca).serial_number)

    assert failures == [], f"{len(failures)} of {applies} creations failed: {failures[:3]}"
    assert len(serials) >= 3  # the first certificate and at least two renewals
    assert applies >= 20
