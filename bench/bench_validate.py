"""Validation cost: a VirtualService with 10..10,000 HTTP routes, and /validate against a
do-nothing admission endpoint on the same FastAPI/uvicorn/TLS stack (wrk as the client).

Run: make bench, or .venv/bin/python -m bench.bench_validate [--skip-http]
"""

import argparse
import json
import os
import statistics
import time
from typing import Any

from bench import harness
from webhooks.admission.review import AdmissionReview
from webhooks.validate import handler, validator


def route(index: int) -> dict[str, Any]:
    # Distinct, non-overlapping prefixes: with `/api/v1` before `/api/v10`, Istio (and we) warn
    # that the later match is shadowed, and the run would time warning output, not validation.
    return {
        "name": f"r{index}",
        "match": [{"uri": {"prefix": f"/api/v{index}/"}, "headers": {"x-user": {"exact": "a"}}}],
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


def time_validation(routes: int) -> tuple[float, float]:
    """Median and best milliseconds for one validation of a VirtualService with `routes` HTTP
    routes (on a shared machine the best is the least disturbed)."""
    document = virtual_service(routes)
    assert validator.validate_object(document).allowed
    repeats = max(3, min(50, 20_000 // routes))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        validator.validate_object(document)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), min(samples)


def time_handler(body: bytes, rounds: int = 7, calls: int = 2_000) -> float:
    """Microseconds of CPU per `handler.handle` call on the review body, in-process (best round):
    the cost validation adds to a request, without the HTTP stack around it."""
    request = AdmissionReview.model_validate(json.loads(body)).request
    assert request is not None
    assert handler.handle(request).allowed
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            handler.handle(request)
        best = min(best, (time.process_time() - start) / calls * 1e6)
    return best


def load() -> str:
    averages = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"load average {averages} on {os.cpu_count()} CPUs"


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


def typical_body() -> bytes:
    """What the bench posts to /validate: a typical 3-route VirtualService's review."""
    return review(virtual_service(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    print(load())
    print("VirtualService validation (median of repeats, best in brackets):")
    previous = None
    for routes in (10, 100, 1_000, 10_000):
        ms, best = time_validation(routes)
        growth = f"   x{ms / previous:.1f} for x10 routes" if previous else ""
        print(
            f"  {routes:>6} HTTP routes: {ms:9.3f} ms ({best:9.3f})"
            f"   {ms * 1000 / routes:6.1f} us/route{growth}"
        )
        previous = ms
    typical = typical_body()
    print(f"handler.handle, typical 3-route VirtualService: {time_handler(typical):.1f} us CPU")
    if args.skip_http:
        return
    with harness.bench_server() as server:
        print("/validate vs do-nothing endpoint (wrk, TLS keep-alive, 8 connections):")
        print(harness.compare(server, "/validate", typical))
    print(load())


if __name__ == "__main__":
    main()
