"""/inject against a do-nothing admission endpoint on the same FastAPI/uvicorn/TLS stack.

The subject is a typical two-container pod from a Deployment, with HTTP and TCP probes and
Prometheus annotations (POD below), in the AdmissionReview a real kube-apiserver sends for it
(typical-pod-review.json, recorded by bench/capture_review.py): defaulted, with the
ServiceAccount token volume, tolerations and managedFields the apiserver adds before any webhook
sees the pod. The pod as written, far smaller than anything a webhook is sent, is measured too.
Both endpoints are served by the real server process (bench/harness.py) and driven by wrk,
alternating rounds so that machine noise hits both alike.

Run: make bench, or .venv/bin/python -m bench.bench_inject
"""

import json
import os
import time
from pathlib import Path
from typing import Any

from bench import harness
from tests import servers
from webhooks.admission.review import AdmissionRequest
from webhooks.inject import config, handler, metrics

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


RECORDED = Path(__file__).with_name("typical-pod-review.json")
TIME_METRIC = metrics.TIME_NAME  # the injector's handler, timed in the server


def recorded_review() -> dict[str, Any]:
    """The AdmissionReview the apiserver sent for POD (see bench/capture_review.py)."""
    recorded: dict[str, Any] = json.loads(RECORDED.read_text())
    return recorded


def typical_body() -> bytes:
    """What the bench posts to /inject: the recorded review, as JSON."""
    return json.dumps(recorded_review()).encode()


def review(uid: int) -> dict[str, Any]:
    """POD as written, in a minimal AdmissionReview."""
    return servers.admission_review(POD, uid=f"bench-{uid}", namespace="shop")


def handler_microseconds(review: dict[str, Any], repeats: int = 1000, batches: int = 7) -> float:
    """The pure handler alone, in-process: what injection adds on top of the HTTP stack. CPU time
    of the best batch, like the best wrk round: the machine is shared, and noise only adds."""
    defaults = config.default_config()
    inject = handler.make_handler(lambda: defaults, None)
    request = AdmissionRequest.model_validate(review["request"])
    inject(request)
    best = float("inf")
    for _ in range(batches):
        start = time.process_time()
        for _ in range(repeats):
            inject(request)
        best = min(best, (time.process_time() - start) / repeats)
    return best * 1e6


def _load() -> str:
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    print(f"{_load()} (2 shared cores: rerun when it is low)")
    subjects = {
        "the pod as the apiserver sends it (typical-pod-review.json)": recorded_review(),
        "the pod as written (POD)": review(0),
    }
    with harness.bench_server() as server:
        for title, subject in subjects.items():
            body = json.dumps(subject).encode()
            print(f"\n{title}: {len(body)} bytes")
            alone = handler_microseconds(subject)
            print(f"handler alone: {alone:.0f} µs CPU per pod (best of 7 batches of 1000)")
            print(harness.compare(server, "/inject", body, handler_time=TIME_METRIC))
    print(_load())
