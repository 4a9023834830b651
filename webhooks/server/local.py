"""`serve --local`: the server on a laptop, with development certificates and no cluster."""

import base64
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

from webhooks.certs import local as local_certs
from webhooks.server.main import ServerSettings, run_on_uvloop, serve_files


def banner(ca_pem: bytes, port: int, ca_path: Path) -> str:
    sample = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "00000000-0000-0000-0000-000000000001",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "default",
            "operation": "CREATE",
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "hello", "namespace": "default"},
                "spec": {"containers": [{"name": "hello", "image": "nginx"}]},
            },
        },
    }
    ca_bundle = base64.b64encode(ca_pem).decode()
    return "\n".join(
        [
            f"mesh-webhooks is serving on https://127.0.0.1:{port} (local mode)",
            f"caBundle (base64 of {ca_path}):",
            ca_bundle,
            "",
            "Try it:",
            f"curl --cacert {ca_path} -H 'Content-Type: application/json' \\",
            f"  https://127.0.0.1:{port}/inject -d '{json.dumps(sample, separators=(',', ':'))}'",
            "",
        ]
    )


def serve(settings: ServerSettings, certs_dir: Path, print_fn: Callable[..., None] = print) -> None:
    """`serve --local`: self-generated certificates under certs_dir, loopback only."""
    paths = local_certs.ensure(certs_dir)
    print_fn(banner(paths.ca.read_bytes(), settings.port, paths.ca), flush=True)
    local = dataclasses.replace(
        settings, host="127.0.0.1", cert_file=paths.cert, key_file=paths.key, kubeconfig=None
    )
    run_on_uvloop(serve_files(local))
