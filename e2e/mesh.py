"""Our webhook server and the chart's objects on the e2e cluster, installed as users install them.

A release is the chart rendered in url mode (webhook configurations calling
https://127.0.0.1:PORT, its injection ConfigMap) plus the chart's CRDs; the server runs as a
child process in cluster mode (`serve --cert-mode self`) and owns the caBundles.
"""

from __future__ import annotations

import base64
import json
import ssl
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from e2e.kubectl import Kubectl
from e2e.polling import wait_for
from e2e.processes import ManagedProcess, free_loopback_port, start_process
from tests.chart.render import render

ROOT = Path(__file__).resolve().parents[1]
CRDS = ROOT / "charts" / "mesh-webhooks" / "crds" / "crds.yaml"
RELEASE_NAMESPACE = "istio-system"
DEFAULT_RELEASE = "mesh-webhooks"
ALWAYS_REJECT = "internal.istio.io/webhook-always-reject"
# The schema wants a caBundle with webhook.url; the server replaces it with its own CA.
PLACEHOLDER_CA_BUNDLE = base64.b64encode(b"replaced by the server\n").decode()
READY_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Release:
    """One rendered release: what the cluster holds and what its server must be told."""

    name: str
    revision: str  # "" is the default revision
    url: str
    documents: list[dict[str, Any]]

    @property
    def mutating_enabled(self) -> bool:
        return any(d["kind"] == "MutatingWebhookConfiguration" for d in self.documents)

    @property
    def mutating(self) -> str:
        return self._named("MutatingWebhookConfiguration")

    @property
    def validating(self) -> str:
        return self._named("ValidatingWebhookConfiguration")

    @property
    def inject_config(self) -> str:
        """config.yaml of the injection ConfigMap, the file the server loads."""
        for document in self.documents:
            if document["kind"] == "ConfigMap" and document["metadata"]["name"].endswith("-inject"):
                return str(document["data"]["config.yaml"])
        raise LookupError(f"release {self.name} renders no injection ConfigMap")

    def _named(self, kind: str) -> str:
        names = [d["metadata"]["name"] for d in self.documents if d["kind"] == kind]
        if len(names) != 1:
            raise LookupError(f"release {self.name} renders {len(names)} {kind}s")
        return str(names[0])


def render_release(
    name: str, port: int, revision: str = "", values: dict[str, Any] | None = None
) -> Release:
    """The chart in url mode for a server on 127.0.0.1:`port`, with extra `values` merged in."""
    url = f"https://127.0.0.1:{port}"
    merged = dict(values or {})
    webhook = {"url": url, "caBundle": PLACEHOLDER_CA_BUNDLE, **merged.pop("webhook", {})}
    merged.update(revision=revision, webhook=webhook)
    documents = [document.obj for document in render(merged, name, RELEASE_NAMESPACE)]
    return Release(name, revision, url, documents)


def install_crds(kubectl: Kubectl) -> None:
    """The chart's CRDs, applied and Established (served) before anything uses them."""
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS), check=True)
    kubectl(
        "wait",
        "--for=condition=established",
        "--timeout=60s",
        "-f",
        str(CRDS),
        check=True,
        timeout=90,
    )


def apply_release(kubectl: Kubectl, release: Release) -> None:
    ensure_namespace(kubectl, RELEASE_NAMESPACE)
    kubectl.apply(_as_list(release.documents))


def delete_release(kubectl: Kubectl, release: Release) -> None:
    kubectl("delete", "--ignore-not-found", "--wait=false", "-f", "-", input=_list(release))


def ensure_namespace(kubectl: Kubectl, name: str, labels: dict[str, str] | None = None) -> None:
    """The namespace with these labels and a `default` ServiceAccount (no controller makes one)."""
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": labels or {}},
        }
    )
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": name},
        }
    )


def unique_namespace(kubectl: Kubectl, prefix: str, labels: dict[str, str] | None = None) -> str:
    """A fresh namespace (deleted ones stay Terminating without controllers), ready for pods."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    ensure_namespace(kubectl, name, labels)
    return name


def injection_labels(revision: str) -> dict[str, str]:
    """Namespace labels that send pods to `revision` ("" is the default revision)."""
    return {"istio.io/rev": revision} if revision else {"istio-injection": "enabled"}


def sample_pod(namespace: str, name: str = "probe") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]},
    }


def dry_run_create(kubectl: Kubectl, manifest: dict[str, Any]) -> dict[str, Any] | None:
    """What the apiserver would store (after every admission webhook), or None if refused."""
    result = kubectl(
        "create", "--dry-run=server", "-o", "json", "-f", "-", input=json.dumps(manifest)
    )
    if result.returncode != 0:
        return None
    stored: dict[str, Any] = json.loads(result.stdout)
    return stored


def wait_until_injecting(kubectl: Kubectl, revision: str) -> None:
    """Until the apiserver sends `revision`'s pods to its injector (a dry-run pod comes back
    with istio.io/rev set)."""
    namespace = unique_namespace(kubectl, "probe", injection_labels(revision))

    def injected() -> bool:
        stored = dry_run_create(kubectl, sample_pod(namespace))
        annotations = (stored or {}).get("metadata", {}).get("annotations", {})
        return bool(annotations.get("istio.io/rev") == (revision or "default"))

    wait_for(injected, timeout=READY_TIMEOUT_SECONDS, description=f"injection by {revision!r}")


@dataclass
class MeshServer:
    """`mesh-webhooks serve` in cluster mode, outside the cluster, for one release."""

    release: Release
    port: int
    process: ManagedProcess | None  # None: the release's own pods serve it (an existing cluster)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def ready(self) -> bool:
        """/readyz answers 200: a serving certificate and this CA in every caBundle."""
        # Trust is not under test here: the apiserver's calls prove it, with the caBundle.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
        )
        try:
            with opener.open(f"{self.release.url}/readyz", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def log_tail(self) -> str:
        return self.process.log_tail(60) if self.process is not None else ""


def start_server(
    kubeconfig: Path, release: Release, workdir: Path, extra_args: Sequence[str] = ()
) -> MeshServer:
    """Start the server for `release` (its port is in the release's url); not yet ready."""
    port = int(release.url.rsplit(":", 1)[1])
    config_file = workdir / f"{release.name}-inject.yaml"
    config_file.write_text(release.inject_config)
    argv = [
        sys.executable,
        "-m",
        "webhooks",
        "serve",
        *("--host", "127.0.0.1", "--port", str(port)),
        *("--namespace", RELEASE_NAMESPACE, "--service", release.name),
        *("--revision", release.revision),
        *(("--mutating-webhook-config", release.mutating) if release.mutating_enabled else ()),
        *("--validating-webhook-config", release.validating),
        *("--kubeconfig", str(kubeconfig), "--extra-san", "127.0.0.1"),
        *("--cabundle-poll-seconds", "1", "--inject-config", str(config_file)),
        *extra_args,
    ]
    process = start_process(release.name, argv, workdir / f"{release.name}.log")
    return MeshServer(release, port, process)


@contextmanager
def running_release(
    kubectl: Kubectl,
    workdir: Path,
    name: str = DEFAULT_RELEASE,
    revision: str = "",
    values: dict[str, Any] | None = None,
    extra_args: Sequence[str] = (),
) -> Iterator[MeshServer]:
    """A release installed and served by a local server; both removed at exit."""
    release = render_release(name, free_loopback_port(), revision, values)
    apply_release(kubectl, release)
    server = start_server(kubectl.kubeconfig, release, workdir, extra_args)
    try:
        try:
            wait_for(server.ready, timeout=READY_TIMEOUT_SECONDS, description="/readyz")
            if release.mutating_enabled:
                wait_until_injecting(kubectl, revision)
        except AssertionError as error:
            raise AssertionError(f"{error}; {release.name} log:\n{server.log_tail()}") from None
        yield server
    finally:
        server.stop()
        delete_release(kubectl, release)


def wait_until_validating(kubectl: Kubectl, namespace: str) -> None:
    """Until the apiserver calls a validator: an always-reject Gateway is denied (dry run)."""
    gateway = always_rejected_gateway(namespace)

    def denied() -> bool:
        result = kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(gateway))
        return "denied the request" in result.stderr

    wait_for(denied, timeout=READY_TIMEOUT_SECONDS, description="the validating webhook")


def valid_gateway(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"istio": "ingressgateway"},
            "servers": [
                {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}
            ],
        },
    }


def always_rejected_gateway(namespace: str) -> dict[str, Any]:
    """Valid but for the annotation that every Istio validator must refuse."""
    gateway = valid_gateway(namespace, "always-rejected")
    gateway["metadata"]["annotations"] = {ALWAYS_REJECT: "true"}
    return gateway


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def _as_list(documents: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "List", "items": documents}


def _list(release: Release) -> str:
    return json.dumps(_as_list(release.documents))
