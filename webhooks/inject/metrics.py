"""Prometheus metrics of the injector (Istio's names), on the default registry.

Each request is recorded by one call under one lock, and a collector exposes the counts when
Prometheus scrapes. Three prometheus_client metrics updated per request (a counter, another, a
histogram) gave the same numbers for ~2 us more of the ~67 us an injection takes in the server
(68.4 -> 66.6 us, median of three same-server runs).
"""

import bisect
import threading
from collections import Counter as Tally
from collections.abc import Iterator
from typing import Literal

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

Outcome = Literal["success", "skip", "failure"]

TIME_NAME = "sidecar_injection_time_seconds"
TIME_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0)


class InjectionMetrics(Collector):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outcomes: Tally[tuple[Outcome, str]] = Tally()  # (outcome, reason); success: ""
        self._buckets = [0] * (len(TIME_BUCKETS) + 1)  # per bucket, not cumulative; last: +Inf
        self._seconds = 0.0

    def record(self, outcome: Outcome, reason: str, seconds: float) -> None:
        """One request: how it ended, why (the decision's reason, or the failure's), how long."""
        bucket = bisect.bisect_left(TIME_BUCKETS, seconds)  # the first bound >= seconds: `le`
        with self._lock:
            self._outcomes[outcome, reason] += 1
            self._buckets[bucket] += 1
            self._seconds += seconds

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            outcomes, buckets, seconds = dict(self._outcomes), list(self._buckets), self._seconds
        yield CounterMetricFamily(
            "sidecar_injection_requests", "Injection requests received.", sum(outcomes.values())
        )
        yield CounterMetricFamily(
            "sidecar_injection_success",
            "Injection requests answered with a sidecar patch.",
            outcomes.get(("success", ""), 0),
        )
        for outcome, documentation in (
            ("skip", "Injection requests answered without a sidecar."),
            ("failure", "Injection requests refused (allowed: false)."),
        ):
            counter = CounterMetricFamily(
                f"sidecar_injection_{outcome}", documentation, labels=["reason"]
            )
            for (kind, reason), count in sorted(outcomes.items()):
                if kind == outcome:
                    counter.add_metric([reason], count)
            yield counter
        cumulative, total = [], 0
        for bound, count in zip((*map(str, TIME_BUCKETS), "+Inf"), buckets, strict=True):
            total += count
            cumulative.append((bound, float(total)))
        yield HistogramMetricFamily(
            TIME_NAME,
            "Time spent answering one injection request: the decision, the injection and the "
            "response.",
            buckets=cumulative,
            sum_value=seconds,
        )


METRICS = InjectionMetrics()
REGISTRY.register(METRICS)
