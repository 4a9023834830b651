"""Record the AdmissionReview a real kube-apiserver sends for bench_inject's typical pod.

A webhook never sees the pod as written: the apiserver has already defaulted it (pull policy,
termination message, probe thresholds, DNS and scheduling fields…) and its built-in admission
plugins have added to it (the ServiceAccount token volume and its mounts, the default
tolerations, the priority). This starts the e2e control plane (etcd + kube-apiserver, see
e2e/README.md), registers a mutating webhook that only records what it is sent, creates the pod
(shaped like a ReplicaSet controller's: generateName, ownerReferences; created with kubectl as the
e2e admin, who is the review's userInfo) and writes the review to bench/typical-pod-review.json.

Run: .venv/bin/python -m bench.capture_review   (needs `make e2e-controlplane` first)
"""

import base64
import json
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from bench.bench_inject import POD
from e2e import mesh, pki
from e2e.kubectl import Kubectl
from e2e.local_control_plane import BIN_DIR, binaries_unavailable_reason, running_control_plane
from e2e.polling import wait_for

OUTPUT = Path(__file__).with_name("typical-pod-review.json")
NAMESPACE = "shop"


class _Recorder(BaseHTTPRequestHandler):
    recorded: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.recorded.append(review)
        answer = {
            "apiVersion": review["apiVersion"],
            "kind": "AdmissionReview",
            "response": {"uid": review["request"]["uid"], "allowed": True},
        }
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _webhook(port: int, ca_pem: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "bench-recorder"},
        "webhooks": [
            {
                "name": "recorder.bench.mesh-webhooks.io",
                "clientConfig": {
                    "url": f"https://127.0.0.1:{port}/inject",
                    "caBundle": base64.b64encode(ca_pem).decode(),
                },
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                    }
                ],
                "namespaceSelector": {"matchLabels": {"istio-injection": "enabled"}},
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "failurePolicy": "Fail",
            }
        ],
    }


def _wait_until_called(kubectl: Kubectl) -> None:
    """The apiserver takes a moment to start calling a new webhook: dry runs until it does."""

    def called() -> bool:
        kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(POD))
        return bool(_Recorder.recorded)

    wait_for(called, timeout=30, description="the apiserver to call the recording webhook")


def capture() -> dict[str, Any]:
    reason = binaries_unavailable_reason()
    if reason is not None:
        raise SystemExit(reason)
    ca = pki.create_ca("bench recorder CA")
    pair = pki.issue_serving_cert(ca, ["127.0.0.1"])
    with tempfile.TemporaryDirectory() as tmp, running_control_plane(Path(tmp, "cp")) as plane:
        cert, key = pki.write(pair, Path(tmp), "tls")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            kubectl = Kubectl(BIN_DIR / "kubectl", plane.kubeconfig, Path(tmp, "kubectl-cache"))
            kubectl.apply(_webhook(server.server_address[1], ca.cert_pem))
            mesh.ensure_namespace(kubectl, NAMESPACE, {"istio-injection": "enabled"})
            account = POD["spec"]["serviceAccountName"]
            kubectl.apply(
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": account, "namespace": NAMESPACE},
                }
            )
            _wait_until_called(kubectl)
            _Recorder.recorded.clear()
            created = kubectl("create", "-f", "-", input=json.dumps(POD))
            if created.returncode != 0:
                raise SystemExit(f"creating the pod failed: {created.stderr}")
        finally:
            server.shutdown()
    if not _Recorder.recorded:
        raise SystemExit("the apiserver sent no admission request")
    return _Recorder.recorded[-1]


if __name__ == "__main__":
    review = capture()
    OUTPUT.write_text(json.dumps(review, indent=2) + "\n")
    print(f"wrote {OUTPUT} ({len(json.dumps(review))} bytes compact)")
