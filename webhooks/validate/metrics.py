"""Istio's validation metrics, under Istio's exact names (no `_total` suffix, like Istio).

prometheus_client's Counter always appends `_total`, so the counts live here and a small collector
on the default registry exposes them (as `untyped`: the text format ties `counter` to `_total`).
"""

import threading
from collections import Counter as Tally
from collections.abc import Iterable, Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

Resource = tuple[str, str, str]  # group, version, resource

PASSED = "galley_validation_passed"
FAILED = "galley_validation_failed"
HTTP_ERROR = "galley_validation_http_error"


class ValidationMetrics(Collector):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._passed: Tally[Resource] = Tally()
        self._failed: Tally[tuple[str, str, str, str]] = Tally()
        self._http_errors: Tally[tuple[str]] = Tally()

    def passed(self, resource: Resource) -> None:
        with self._lock:
            self._passed[resource] += 1

    def failed(self, resource: Resource, reason: str) -> None:
        with self._lock:
            self._failed[(*resource, reason)] += 1

    def http_error(self, status: int) -> None:
        with self._lock:
            self._http_errors[(str(status),)] += 1

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            passed, failed = dict(self._passed), dict(self._failed)
            http_errors = dict(self._http_errors)
        resource = ("group", "version", "resource")
        yield _counter(PASSED, "Resource is valid", resource, passed.items())
        yield _counter(FAILED, "Resource validation failed", (*resource, "reason"), failed.items())
        yield _counter(
            HTTP_ERROR, "Resource validation http serve errors", ("status",), http_errors.items()
        )


def _counter(
    name: str,
    documentation: str,
    labels: tuple[str, ...],
    values: Iterable[tuple[tuple[str, ...], int]],
) -> Metric:
    metric = Metric(name, documentation, "untyped")
    for key, count in values:
        metric.add_sample(name, dict(zip(labels, key, strict=True)), float(count))
    return metric


METRICS = ValidationMetrics()
REGISTRY.register(METRICS)


def record_http_error(status: int) -> None:
    """For the server: a /validate request it could not read (400, 413, 415) or failed on (500)."""
    METRICS.http_error(status)
