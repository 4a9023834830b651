"""Prometheus metrics of the injector (Istio's names), on the default registry."""

from prometheus_client import Counter, Histogram

REQUESTS = Counter("sidecar_injection_requests_total", "Injection requests received.")
SUCCESS = Counter(
    "sidecar_injection_success_total", "Injection requests answered with a sidecar patch."
)
SKIP = Counter(
    "sidecar_injection_skip_total", "Injection requests answered without a sidecar.", ["reason"]
)
FAILURE = Counter(
    "sidecar_injection_failure_total", "Injection requests refused (allowed: false).", ["reason"]
)
TIME = Histogram(
    "sidecar_injection_time_seconds",
    "Time spent answering one injection request: the decision, the injection and the response.",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0),
)
