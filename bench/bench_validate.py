"""Validation cost: a VirtualService with 10..10,000 HTTP routes, and /validate against a
do-nothing admission endpoint on the same FastAPI/uvicorn/TLS stack (wrk as the client).

Run: .venv/bin/python bench/bench_validate.py [--skip-http]
"""

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402
from webhooks.validate import validator  # noqa: E402


def route(index: int) -> dict[str, Any]:
    return {
        "name": f"r{index}",
        "match": [{"uri": {"prefix": f"/api/v{index}"}, "headers": {"x-user": {"exact": "a"}}}],
        "route": [
            {"destination": {"host": "reviews", "subset": "v1"}, "weight": 90},
            {"destination": {"host": "reviews", "subset": "v2"}, "weight": 10},
        ],
        "timeout": "5s",
        "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx,reset"},
    }


def virtual_service(routes: int) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "reviews", "namespace": "default"},
        "spec": {"hosts": ["reviews"], "http": [route(i) for i in range(routes)]},
    }


def time_validation(routes: int) -> float:
    """Median milliseconds for one validation of a VirtualService with `routes` HTTP routes."""
    document = virtual_service(routes)
    assert validator.validate_object(document).allowed
    repeats = max(3, min(50, 20_000 // routes))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        validator.validate_object(document)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def review(obj: dict[str, Any]) -> bytes:
    request = {
        "uid": "00000000-0000-0000-0000-000000000001",
        "kind": {"group": "networking.istio.io", "version": "v1", "kind": "VirtualService"},
        "resource": {
            "group": "networking.istio.io",
            "version": "v1",
            "resource": "virtualservices",
        },
        "namespace": "default",
        "operation": "CREATE",
        "object": obj,
    }
    body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    return json.dumps(body).encode()


@contextlib.contextmanager
def server() -> Iterator[int]:
    from tests import servers
    from webhooks.certs import issuing

    ca = issuing.create_ca("bench CA")
    pair = issuing.issue_serving_cert(ca, ["127.0.0.1"])
    port = servers.free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = servers.write_pair(Path(tmp), pair)
        command = [sys.executable, __file__, "serve", str(port), str(cert), str(key)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    servers.peer_certificate(port, ca.cert_pem)
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("benchmark server did not start") from None
                    time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=15)


def serve(port: int, cert: Path, key: Path) -> None:
    """/validate (our handler) and /noop (allow, unread) on the production stack."""
    import uvicorn

    from webhooks.admission import responses
    from webhooks.server.app import create_app
    from webhooks.server.tls import ReloadableTLS
    from webhooks.validate import handler

    tls = ReloadableTLS()
    tls.load_files(cert, key)
    app = create_app({"/validate": handler.handle, "/noop": responses.allow}, lambda: True)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ssl_context_factory=tls.uvicorn_factory(),
        loop="uvloop", http="httptools", lifespan="off", log_config=None, access_log=False,
    )  # fmt: skip
    asyncio.run(uvicorn.Server(config).serve())


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    print("VirtualService validation (median of repeats):")
    previous = None
    for routes in (10, 100, 1_000, 10_000):
        ms = time_validation(routes)
        growth = f"   x{ms / previous:.1f} for x10 routes" if previous else ""
        print(
            f"  {routes:>6} HTTP routes: {ms:9.3f} ms   {ms * 1000 / routes:6.1f} us/route{growth}"
        )
        previous = ms
    if args.skip_http:
        return
    typical = review(virtual_service(3))
    with server() as port:
        print("/validate vs do-nothing endpoint (wrk, TLS keep-alive, 8 connections):")
        print(harness.compare(port, "/validate", typical))


if __name__ == "__main__":
    main()
