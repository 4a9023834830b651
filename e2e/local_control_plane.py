"""A real Kubernetes control plane on loopback: etcd plus kube-apiserver, nothing else.

The binaries come from e2e/controlplane/build.sh (pinned in e2e/controlplane/go.mod). There is
no kubelet, scheduler or controller-manager: objects are stored, validated and sent through
admission (webhooks included) exactly as in a cluster, but pods never run, namespaces never
finish deleting and no `default` ServiceAccount is created for new namespaces.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from e2e import pki
from e2e.processes import ManagedProcess, ProcessStartError, free_loopback_port, start_process

E2E_DIR = Path(__file__).resolve().parent
BIN_DIR = E2E_DIR / ".cache" / "bin"
BUILD_SCRIPT = E2E_DIR / "controlplane" / "build.sh"
GO_MOD = E2E_DIR / "controlplane" / "go.mod"
BUILD_STAMP = BIN_DIR / ".build-stamp"
BINARIES = ("etcd", "kube-apiserver", "kubectl")

ADMIN_USER = "e2e-admin"
ADMIN_GROUPS = ("system:masters",)
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"

_ETCD_READY_TIMEOUT = 30.0
_APISERVER_READY_TIMEOUT = 90.0
_START_ATTEMPTS = 3  # a free port can be taken by someone else before the process binds it
_POLL_INTERVAL = 0.1


@dataclass(frozen=True)
class ControlPlane:
    kubernetes_version: str
    server_url: str
    kubeconfig: Path
    ca_cert: Path  # signed the apiserver's serving certificate and the admin's client one
    workdir: Path
    etcd: ManagedProcess
    apiserver: ManagedProcess
    startup_seconds: float


def pinned_kubernetes_version() -> str:
    """The k8s.io/kubernetes version that e2e/controlplane/go.mod requires, e.g. v1.36.3."""
    match = re.search(r"^\s*(?:require\s+)?k8s\.io/kubernetes\s+(v\S+)", GO_MOD.read_text(), re.M)
    if match is None:
        raise RuntimeError(f"{GO_MOD} does not require k8s.io/kubernetes")
    return match.group(1)


def binaries_unavailable_reason() -> str | None:
    """Why the control plane cannot start from BIN_DIR, or None when it can."""
    missing = [name for name in BINARIES if not (BIN_DIR / name).is_file()]
    if missing:
        problem = f"missing {', '.join(missing)} in {BIN_DIR}"
    elif f"kubernetes {pinned_kubernetes_version()}\n" not in _read_stamp():
        problem = f"{BIN_DIR} holds a build for another version than {GO_MOD} pins"
    else:
        return None
    how_to_fix = f"run `make e2e-controlplane` (bash {BUILD_SCRIPT.relative_to(E2E_DIR.parent)})"
    if shutil.which("go") is None and not Path("/usr/local/go/bin/go").is_file():
        how_to_fix = "install Go >= 1.26, then " + how_to_fix
    return f"e2e control plane unavailable: {problem}; {how_to_fix}"


@contextmanager
def running_control_plane(workdir: Path) -> Iterator[ControlPlane]:
    """Start etcd and kube-apiserver under `workdir`; stop both when the block exits."""
    started = time.monotonic()
    pki_dir = _make_dir(workdir / "pki")
    ca = pki.create_ca("mesh-webhooks-e2e-ca")
    ca_cert, _ = pki.write(ca, pki_dir, "ca")
    admin = pki.issue_client_cert(ca, ADMIN_USER, ADMIN_GROUPS)
    with ExitStack() as stack:
        etcd, etcd_url = _start_with_retries(lambda: _start_etcd(workdir))
        stack.callback(etcd.stop)
        apiserver, server_url = _start_with_retries(
            lambda: _start_apiserver(workdir, etcd_url, ca, admin)
        )
        stack.callback(apiserver.stop)  # runs first: the apiserver stops before its etcd
        kubeconfig = workdir / "kubeconfig"
        _write_kubeconfig(kubeconfig, server_url, ca, admin)
        yield ControlPlane(
            kubernetes_version=pinned_kubernetes_version(),
            server_url=server_url,
            kubeconfig=kubeconfig,
            ca_cert=ca_cert,
            workdir=workdir,
            etcd=etcd,
            apiserver=apiserver,
            startup_seconds=time.monotonic() - started,
        )


def _start_with_retries(
    start: Callable[[], tuple[ManagedProcess, str]],
) -> tuple[ManagedProcess, str]:
    for attempt in range(1, _START_ATTEMPTS + 1):
        try:
            return start()
        except ProcessStartError as error:
            if "address already in use" not in str(error) or attempt == _START_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _start_etcd(workdir: Path) -> tuple[ManagedProcess, str]:
    client_url = f"http://127.0.0.1:{free_loopback_port()}"
    peer_url = f"http://127.0.0.1:{free_loopback_port()}"
    data_dir = workdir / "etcd-data"
    shutil.rmtree(data_dir, ignore_errors=True)  # left over by an attempt that lost its port
    argv = [
        str(BIN_DIR / "etcd"),
        "--name=e2e",
        f"--data-dir={_make_dir(data_dir)}",
        f"--listen-client-urls={client_url}",
        f"--advertise-client-urls={client_url}",
        f"--listen-peer-urls={peer_url}",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=e2e={peer_url}",
        # The data is thrown away after the session; fsync only slows every write down.
        "--unsafe-no-fsync",
    ]
    etcd = start_process("etcd", argv, workdir / "etcd.log")
    try:
        _wait_until(etcd, "healthy", lambda: _etcd_is_healthy(client_url), _ETCD_READY_TIMEOUT)
    except BaseException:
        etcd.stop()
        raise
    return etcd, client_url


def _start_apiserver(
    workdir: Path, etcd_url: str, ca: pki.KeyPair, admin: pki.KeyPair
) -> tuple[ManagedProcess, str]:
    pki_dir = workdir / "pki"
    port = free_loopback_port()
    server_url = f"https://127.0.0.1:{port}"
    serving = pki.issue_serving_cert(ca, ["127.0.0.1", "localhost"])
    serving_cert, serving_key = pki.write(serving, pki_dir, "apiserver")
    signing_key, verifying_key = pki.write_signing_key_pair(pki_dir, "service-account")
    argv = [
        str(BIN_DIR / "kube-apiserver"),
        f"--etcd-servers={etcd_url}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        "--advertise-address=127.0.0.1",
        # The reconciler would publish 127.0.0.1 as the `kubernetes` Service's endpoint,
        # which endpoint validation rejects (loopback); nothing here needs that endpoint.
        "--endpoint-reconciler-type=none",
        f"--cert-dir={pki_dir}",
        f"--tls-cert-file={serving_cert}",
        f"--tls-private-key-file={serving_key}",
        f"--client-ca-file={pki_dir / 'ca.crt'}",
        "--authorization-mode=RBAC",
        # Both are on by default; naming them keeps a future default change from silently
        # turning the webhook tests into no-ops.
        "--enable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-key-file={verifying_key}",
        f"--service-account-signing-key-file={signing_key}",
        # Injected init containers get NET_ADMIN; allow what a mesh's clusters allow.
        "--allow-privileged=true",
        "--profiling=false",
    ]
    apiserver = start_process("kube-apiserver", argv, workdir / "kube-apiserver.log")
    context = _admin_tls_context(pki_dir, ca, admin)
    try:
        _wait_until(
            apiserver,
            "ready (/readyz) with the default namespace created",
            lambda: _apiserver_is_ready(server_url, context),
            _APISERVER_READY_TIMEOUT,
        )
    except BaseException:
        apiserver.stop()
        raise
    return apiserver, server_url


def _wait_until(
    process: ManagedProcess, state: str, is_ready: Callable[[], bool], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while not is_ready():
        if not process.running:
            raise process.failure(f"exited before it was {state}")
        if time.monotonic() > deadline:
            raise process.failure(f"was not {state} after {timeout:.0f}s")
        time.sleep(_POLL_INTERVAL)


def _etcd_is_healthy(client_url: str) -> bool:
    body = _get(f"{client_url}/health", context=None)
    return body is not None and json.loads(body).get("health") == "true"


def _apiserver_is_ready(server_url: str, context: ssl.SSLContext) -> bool:
    # /readyz covers etcd and the post-start hooks (RBAC bootstrap roles among them); the
    # default namespace comes from a controller that readyz does not wait for.
    return (
        _get(f"{server_url}/readyz", context) is not None
        and _get(f"{server_url}/api/v1/namespaces/default", context) is not None
    )


def _get(url: str, context: ssl.SSLContext | None) -> bytes | None:
    """The body of a 200 response, or None for any error (not up yet, not ready yet)."""
    handlers = [urllib.request.HTTPSHandler(context=context)] if context else []
    # No ProxyHandler settings: proxy variables must never apply to these loopback checks.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), *handlers)
    try:
        with opener.open(url, timeout=2) as response:
            body: bytes = response.read()
            return body
    except (urllib.error.URLError, OSError):
        return None


def _admin_tls_context(pki_dir: Path, ca: pki.KeyPair, admin: pki.KeyPair) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=ca.cert_pem.decode())
    cert_path, key_path = pki.write(admin, pki_dir, "admin")
    context.load_cert_chain(cert_path, key_path)
    return context


def _write_kubeconfig(path: Path, server_url: str, ca: pki.KeyPair, admin: pki.KeyPair) -> None:
    # JSON is valid YAML, and kubectl accepts it as a kubeconfig.
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "e2e",
                "cluster": {
                    "server": server_url,
                    "certificate-authority-data": _base64(ca.cert_pem),
                },
            }
        ],
        "users": [
            {
                "name": ADMIN_USER,
                "user": {
                    "client-certificate-data": _base64(admin.cert_pem),
                    "client-key-data": _base64(admin.key_pem),
                },
            }
        ],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": ADMIN_USER}}],
        "current-context": "e2e",
    }
    path.write_text(json.dumps(kubeconfig, indent=2))
    path.chmod(0o600)


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _read_stamp() -> str:
    try:
        return BUILD_STAMP.read_text()
    except FileNotFoundError:
        return ""


def _make_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
