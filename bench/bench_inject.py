"""/inject against a do-nothing admission endpoint on the same FastAPI/uvicorn/TLS stack.

Both endpoints are served by one app in one uvicorn process (as in production: uvloop,
httptools, our TLS context). A few concurrent clients post a typical two-container pod with
probes and Prometheus annotations over keep-alive HTTPS connections on loopback; the two
endpoints are measured in alternating rounds so that machine noise hits both alike.

Run: .venv/bin/python bench/bench_inject.py [--requests N] [--clients C] [--rounds R]
"""

import argparse
import asyncio
import multiprocessing
import socket
import ssl
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "generateName": "web-7d9f8b6c5d-",
        "namespace": "shop",
        "labels": {"app": "web", "version": "v3", "pod-template-hash": "7d9f8b6c5d"},
        "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9100"},
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "web-7d9f8b6c5d",
                "uid": "3f0c1e2a-0000-4000-8000-000000000001",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    },
    "spec": {
        "serviceAccountName": "web",
        "containers": [
            {
                "name": "web",
                "image": "example/web:3.2.1",
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "LOG_LEVEL", "value": "info"}],
                "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}},
                "readinessProbe": {
                    "httpGet": {"path": "/ready", "port": "http", "scheme": "HTTP"},
                    "periodSeconds": 5,
                    "timeoutSeconds": 1,
                },
                "livenessProbe": {
                    "httpGet": {"path": "/live", "port": 8080, "scheme": "HTTP"},
                    "timeoutSeconds": 1,
                },
            },
            {
                "name": "metrics",
                "image": "example/exporter:1.0",
                "ports": [{"name": "metrics", "containerPort": 9100, "protocol": "TCP"}],
                "livenessProbe": {"tcpSocket": {"port": 9100}, "timeoutSeconds": 1},
            },
        ],
        "volumes": [{"name": "cache", "emptyDir": {}}],
    },
}


def review(uid: int) -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": f"bench-{uid}",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "shop",
            "operation": "CREATE",
            "object": POD,
        },
    }


def serve(port: int, cert: str, key: str) -> None:
    import uvicorn

    from webhooks.admission.responses import allow
    from webhooks.inject.config import default_config
    from webhooks.inject.handler import make_handler
    from webhooks.server.app import create_app
    from webhooks.server.tls import ReloadableTLS

    tls = ReloadableTLS()
    tls.load_files(Path(cert), Path(key))
    config = default_config()
    app = create_app({"/inject": make_handler(lambda: config), "/noop": allow}, lambda: True)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        ssl_context_factory=tls.uvicorn_factory(),
        loop="uvloop",
        http="httptools",
        lifespan="off",
        log_level="error",
        access_log=False,
    )


async def client(base: str, path: str, ca: str, count: int, latencies: list[float]) -> None:
    verify = ssl.create_default_context(cafile=ca)
    async with httpx.AsyncClient(base_url=base, verify=verify, http2=False) as session:
        bodies = [review(i) for i in range(count)]
        for body in bodies:
            start = time.perf_counter()
            response = await session.post(path, json=body)
            latencies.append(time.perf_counter() - start)
            assert response.status_code == 200, response.text
            assert response.json()["response"]["allowed"] is True


async def measure(base: str, path: str, ca: str, requests: int, clients: int) -> dict[str, float]:
    latencies: list[float] = []
    start = time.perf_counter()
    await asyncio.gather(
        *(client(base, path, ca, requests // clients, latencies) for _ in range(clients))
    )
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def best(runs: list[dict[str, float]]) -> dict[str, float]:
    """The median round, by throughput: robust to a noisy neighbour on a shared machine."""
    return sorted(runs, key=lambda run: run["rps"])[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per endpoint per round")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from webhooks.certs import issuing

    ca = issuing.create_ca("bench CA")
    pair = issuing.issue_serving_cert(ca, ["127.0.0.1"])
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: Path(tmp, name) for name in ("ca.pem", "tls.crt", "tls.key")}
        paths["ca.pem"].write_bytes(ca.cert_pem)
        paths["tls.crt"].write_bytes(pair.cert_pem)
        paths["tls.key"].write_bytes(pair.key_pem)
        port = free_port()
        server = multiprocessing.Process(
            target=serve, args=(port, str(paths["tls.crt"]), str(paths["tls.key"])), daemon=True
        )
        server.start()
        try:
            run(f"https://127.0.0.1:{port}", str(paths["ca.pem"]), args)
        finally:
            server.terminate()
            server.join()


def run(base: str, ca: str, args: argparse.Namespace) -> None:
    async def wait_and_measure() -> dict[str, list[dict[str, float]]]:
        for _ in range(200):
            try:
                await measure(base, "/noop", ca, 40, 2)  # also warms both endpoints
                await measure(base, "/inject", ca, 40, 2)
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.05)
        results: dict[str, list[dict[str, float]]] = {"/noop": [], "/inject": []}
        for _ in range(args.rounds):
            for path in results:
                results[path].append(await measure(base, path, ca, args.requests, args.clients))
        return results

    results = asyncio.run(wait_and_measure())
    noop, inject = best(results["/noop"]), best(results["/inject"])
    print(f"{args.requests} requests x {args.rounds} rounds per endpoint, {args.clients} clients")
    print(f"{'endpoint':<10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, row in (("/noop", noop), ("/inject", inject)):
        print(f"{name:<10}{row['rps']:>10.0f}{row['p50_ms']:>10.2f}{row['p99_ms']:>10.2f}")
    ratio = noop["rps"] / inject["rps"]
    print(f"cost ratio (noop req/s / inject req/s): {ratio:.2f}  (target <= 1.50)")
    print(f"p50 ratio: {inject['p50_ms'] / noop['p50_ms']:.2f}")


if __name__ == "__main__":
    main()
