"""/inject against a do-nothing admission endpoint on the same FastAPI/uvicorn/TLS stack.

The request is a typical two-container pod from a Deployment, with HTTP and TCP probes and
Prometheus annotations. Both endpoints are served by the real server process (bench/harness.py)
and driven by wrk, alternating rounds so that machine noise hits both alike.

Run: make bench, or .venv/bin/python -m bench.bench_inject
"""

import json
import time
from typing import Any

from bench import harness
from webhooks.admission.review import AdmissionRequest
from webhooks.inject import config, handler

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


def handler_microseconds(repeats: int = 2000) -> float:
    """The pure handler alone, in-process: what injection adds on top of the HTTP stack."""
    defaults = config.default_config()
    inject = handler.make_handler(lambda: defaults, None)
    request = AdmissionRequest.model_validate(review(0)["request"])
    inject(request)
    start = time.perf_counter()
    for _ in range(repeats):
        inject(request)
    return (time.perf_counter() - start) / repeats * 1e6


if __name__ == "__main__":
    print(f"handler alone: {handler_microseconds():.0f} µs per pod")
    with harness.bench_server() as port:
        print(harness.compare(port, "/inject", json.dumps(review(0)).encode()))
