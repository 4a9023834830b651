"""Self-managed TLS (`serve --cert-mode self`) against the real kube-apiserver.

Replicas run as processes with `--kubeconfig`; the webhook configurations use url clientConfigs
to 127.0.0.1, so the serving certificates carry 127.0.0.1 through `--extra-san`.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from e2e.kubectl import Kubectl
from e2e.local_control_plane import ControlPlane
from tests import servers

pytestmark = pytest.mark.e2e
SERVICE = "mesh-webhooks"
NEVER = {"e2e-certs.mesh-webhooks.test/never": "true"}  # matches nothing but our probe objects


def configuration(kind: str, name: str, hook: str, url: str) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": hook,
                "clientConfig": {"url": url},
                "failurePolicy": "Ignore" if kind.startswith("Validating") else "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "objectSelector": {"matchLabels": NEVER},
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["configmaps"],
                    }
                ],
            }
        ],
    }


def wait(check: Callable[[], bool], what: str, logs: list[Any], timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            output = ""
            for log in logs:
                log.seek(0)
                output += log.read().decode(errors="replace")
            raise AssertionError(f"timed out waiting for {what}:\n{output[-6000:]}")
        time.sleep(0.2)


@pytest.fixture
def cluster(control_plane: ControlPlane, kubectl: Kubectl) -> Iterator[dict[str, Any]]:
    suffix = uuid.uuid4().hex[:6]
    ns, port = f"certs-{suffix}", servers.free_port()
    names = {"ns": ns, "mutating": f"mw-{suffix}", "validating": f"vw-{suffix}", "port": port}
    kubectl("create", "namespace", ns, check=True)
    kubectl.apply(
        configuration(
            "MutatingWebhookConfiguration",
            names["mutating"],
            "sidecar-injector.istio.io",
            f"https://127.0.0.1:{port}/inject",
        )
    )
    kubectl.apply(
        configuration(
            "ValidatingWebhookConfiguration",
            names["validating"],
            "validation.istio.io",
            f"https://127.0.0.1:{port}/validate",
        )
    )
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[Any] = []

    def launch(serve_port: int) -> None:
        log = tempfile.TemporaryFile()  # noqa: SIM115 - closed at teardown
        command = [
            sys.executable,
            "-m",
            "webhooks",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(serve_port),
            "--namespace",
            ns,
            "--service",
            SERVICE,
            "--kubeconfig",
            str(control_plane.kubeconfig),
            "--extra-san",
            "127.0.0.1",
            "--mutating-webhook-config",
            names["mutating"],
            "--validating-webhook-config",
            names["validating"],
            "--cabundle-poll-seconds",
            "0.5",
            "--ca-check-seconds",
            "2",
        ]
        processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
        logs.append(log)

    names["launch"], names["logs"] = launch, logs
    yield names
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for log in logs:
        log.close()
    kubectl("delete", "mutatingwebhookconfiguration", names["mutating"], "--wait=false")
    kubectl("delete", "validatingwebhookconfiguration", names["validating"], "--wait=false")
    kubectl("delete", "namespace", ns, "--wait=false")


def ca_pem(kubectl: Kubectl, ns: str) -> bytes | None:
    result = kubectl("get", "secret", f"{SERVICE}-ca", "-n", ns, "-o", "json")
    if result.returncode != 0:
        return None
    return base64.b64decode(json.loads(result.stdout)["data"]["ca.crt"])


def webhooks(kubectl: Kubectl, kind: str, name: str) -> list[dict[str, Any]]:
    hooks: list[dict[str, Any]] = kubectl.get_json(kind, name)["webhooks"]
    return hooks


def bundle(kubectl: Kubectl, kind: str, name: str) -> bytes:
    encoded = webhooks(kubectl, kind, name)[0]["clientConfig"].get("caBundle", "")
    return base64.b64decode(encoded)


def test_two_replicas_share_one_ca_bundles_follow_and_the_apiserver_calls_us(
    kubectl: Kubectl, cluster: dict[str, Any]
) -> None:
    ns, logs = cluster["ns"], cluster["logs"]
    cluster["launch"](cluster["port"])
    cluster["launch"](servers.free_port())
    wait(lambda: ca_pem(kubectl, ns) is not None, "the CA Secret", logs)
    ca = ca_pem(kubectl, ns)
    assert ca is not None
    for kind, name in (
        ("mutatingwebhookconfiguration", cluster["mutating"]),
        ("validatingwebhookconfiguration", cluster["validating"]),
    ):
        wait(lambda k=kind, n=name: bundle(kubectl, k, n) == ca, f"{kind} caBundle", logs)
    # no Gateway CRD here: the self-test counts that as ready (as Istio does) and fails closed
    wait(
        lambda: (
            webhooks(kubectl, "validatingwebhookconfiguration", cluster["validating"])[0][
                "failurePolicy"
            ]
            == "Fail"
        ),
        "failurePolicy Fail",
        logs,
    )
    assert ca_pem(kubectl, ns) == ca  # still one CA
    # the real apiserver reaches the replica over TLS, trusting only the caBundle
    probe = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "probe", "namespace": ns, "labels": NEVER},
    }
    wait(lambda: kubectl.apply(probe, check=False).returncode == 0, "an admitted probe", logs, 60)
    # a blanked caBundle comes back within seconds
    kubectl(
        "patch",
        "validatingwebhookconfiguration",
        cluster["validating"],
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/webhooks/0/clientConfig/caBundle","value":"Cg=="}]',
        check=True,
    )
    blanked = time.monotonic()
    wait(
        lambda: bundle(kubectl, "validatingwebhookconfiguration", cluster["validating"]) == ca,
        "caBundle restored",
        logs,
        10,
    )
    assert time.monotonic() - blanked < 10
