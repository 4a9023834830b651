"""Telemetry: providers, sampling, custom tags, metric overrides and access-log filters."""

from webhooks.validate.kinds.common import check_duration, check_policy_target
from webhooks.validate.kinds.meta import Meta
from webhooks.validate.models.telemetry import Metrics, ProviderRef, Telemetry, Tracing
from webhooks.validate.verdict import Verdict


def validate(spec: Telemetry, meta: Meta) -> Verdict:
    v = Verdict()
    check_policy_target(v, spec.selector, spec.target_ref, spec.target_refs)
    if len(spec.tracing) > 1:
        v.warn("multiple tracing is not currently supported", "spec.tracing")
    for index, tracing in enumerate(spec.tracing):
        _check_tracing(v, tracing, f"spec.tracing[{index}]")
    for index, metrics in enumerate(spec.metrics):
        _check_metrics(v, metrics, f"spec.metrics[{index}]")
    for index, logging in enumerate(spec.access_logging):
        path = f"spec.accessLogging[{index}]"
        _check_providers(v, logging.providers, path)
        if logging.filter is not None and not _balanced(logging.filter.expression):
            v.error(
                "must be a valid CEL expression, unbalanced brackets or quotes", f"{path}.filter"
            )
    return v


def _check_providers(v: Verdict, providers: list[ProviderRef], path: str) -> None:
    if len(providers) > 1:
        v.warn("multiple providers is not currently supported", f"{path}.providers")
    for index, provider in enumerate(providers):
        if not provider.name:
            v.error("providers.name may not be empty", f"{path}.providers[{index}]")


def _check_tracing(v: Verdict, tracing: Tracing, path: str) -> None:
    _check_providers(v, tracing.providers, path)
    percentage = tracing.random_sampling_percentage
    if percentage is not None and not 0.0 <= percentage <= 100.0:
        v.error("randomSamplingPercentage must be in range [0.0, 100.0]", path)
    for name, tag in tracing.custom_tags.items():
        where = f"{path}.customTags[{name}]"
        if not name:
            v.error("tag name may not be empty", where)
        if tag is None or not tag.model_fields_set:
            v.error(f"tag '{name}' may not have a nil value", where)
            continue
        if tag.literal is not None and not tag.literal.value:
            v.error("literal tag value may not be empty", where)
        if tag.header is not None and not tag.header.name:
            v.error("header tag name may not be empty", where)
        if tag.environment is not None and not tag.environment.name:
            v.error("environment tag name may not be empty", where)


def _check_metrics(v: Verdict, metrics: Metrics, path: str) -> None:
    _check_providers(v, metrics.providers, path)
    check_duration(v, metrics.reporting_interval, f"{path}.reportingInterval")
    for index, override in enumerate(metrics.overrides):
        where = f"{path}.overrides[{index}]"
        if override.match is not None and override.match.custom_metric == "":
            v.error("customMetric may not be empty", f"{where}.match")
        if override.tag_overrides is None:
            if "tag_overrides" in override.model_fields_set:
                v.error("tagOverrides may not be null", where)
            continue
        for name, tag in override.tag_overrides.items():
            tag_path = f"{where}.tagOverrides[{name}]"
            if not name:
                v.warn("tagOverrides.name may not be empty", tag_path)
            if tag is None:
                v.error("tagOverrides may not be null", tag_path)
            elif (tag.operation or "UPSERT") == "UPSERT" and not tag.value:
                v.error("tagOverrides.value must be set when operation is UPSERT", tag_path)
            elif tag.operation == "REMOVE" and tag.value:
                v.error("tagOverrides.value may only be set when operation is UPSERT", tag_path)


def _balanced(expression: str) -> bool:
    """A cheap syntax screen; Istio parses with cel-go, which we do not ship."""
    depth, quote = 0, ""
    for char in expression:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0 and not quote and bool(expression.strip())
