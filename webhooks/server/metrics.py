"""HTTP-level metrics of the admission server (component metrics live with their component)."""

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "webhook_requests_total", "Admission HTTP requests by path and status code.", ["path", "code"]
)
LATENCY_NAME = "webhook_request_duration_seconds"
LATENCY = Histogram(
    LATENCY_NAME,
    "Time to answer an admission request, by path.",
    ["path"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
CERT_NOT_AFTER = Gauge(
    "webhook_serving_cert_expiry_timestamp_seconds",
    "NotAfter of the serving certificate in use, as a Unix timestamp.",
)
CERT_RELOADS = Counter("webhook_serving_cert_reloads_total", "Serving certificates loaded.")
