"""The /validate admission core: operations, response shape, unknown kinds, metrics."""

import logging
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests import servers
from webhooks.admission.review import AdmissionRequest
from webhooks.validate import handler, metrics

VS = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "reviews", "namespace": "default"},
    "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]},
}
RESOURCE = {"group": "networking.istio.io", "version": "v1", "resource": "virtualservices"}


def request(obj: Any, operation: str = "CREATE", dry_run: bool = False) -> AdmissionRequest:
    review = servers.admission_review(
        obj,
        uid="u-1",
        kind={"group": "networking.istio.io", "version": "v1", "kind": "VirtualService"},
        resource=RESOURCE,
        operation=operation,
        dryRun=dry_run,
    )
    return AdmissionRequest.model_validate(review["request"])


def sample(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return value or 0.0


def test_a_valid_object_is_allowed_without_status_or_warnings() -> None:
    before = sample(metrics.PASSED, **RESOURCE)
    response = handler.handle(request(VS))
    assert response.allowed
    assert response.uid == "u-1"
    assert response.status is None
    assert response.warnings is None
    assert sample(metrics.PASSED, **RESOURCE) == before + 1


def test_an_invalid_object_is_denied_with_istio_message_and_no_code() -> None:
    bad = {**VS, "spec": {"hosts": ["reviews"], "http": [{}]}}
    before = sample(metrics.FAILED, reason="invalid_resource", **RESOURCE)
    response = handler.handle(request(bad))
    assert not response.allowed
    assert response.status is not None
    assert response.status.message == (
        "configuration is invalid: HTTP route, redirect or direct_response is required "
        "(spec.http[0])"
    )
    assert response.status.code is None
    assert response.status.reason is None
    assert sample(metrics.FAILED, reason="invalid_resource", **RESOURCE) == before + 1
    assert response.audit_annotations == {"reason": "invalid_resource"}  # the metric's code


def test_a_rejection_is_logged_only_by_the_server_admission_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = {**VS, "spec": {"hosts": ["reviews"], "http": [{}]}}
    assert not handler.handle(request(bad)).allowed
    assert caplog.records == []


def test_dry_run_failures_are_not_counted() -> None:
    bad = {**VS, "spec": {"hosts": ["reviews"], "http": [{}]}}
    before = sample(metrics.FAILED, reason="invalid_resource", **RESOURCE)
    assert not handler.handle(request(bad, dry_run=True)).allowed
    assert sample(metrics.FAILED, reason="invalid_resource", **RESOURCE) == before


@pytest.mark.parametrize("operation", ["DELETE", "CONNECT"])
def test_delete_and_connect_are_allowed_and_counted_as_unsupported(operation: str) -> None:
    before = sample(metrics.FAILED, reason="unsupported_operation", **RESOURCE)
    response = handler.handle(request({"not": "even a mesh object"}, operation))
    assert response.allowed
    assert sample(metrics.FAILED, reason="unsupported_operation", **RESOURCE) == before + 1


def test_update_is_validated() -> None:
    bad = {**VS, "spec": {"hosts": ["reviews"]}}
    response = handler.handle(request(bad, "UPDATE"))
    assert not response.allowed
    assert response.status is not None
    assert "http, tcp or tls must be provided in virtual service" in response.status.message


def test_unknown_kinds_are_unrecognized_types() -> None:
    unknown = {**VS, "kind": "Foo"}
    response = handler.handle(request(unknown))
    assert not response.allowed
    assert response.status is not None
    assert response.status.message == "unrecognized type networking.istio.io/v1, Kind=Foo"


def test_the_version_is_ignored_when_looking_up_the_kind() -> None:
    future = {**VS, "apiVersion": "networking.istio.io/v9"}
    assert handler.handle(request(future)).allowed


def test_warnings_are_returned_on_allowed_objects() -> None:
    legacy = {**VS, "spec": {**VS["spec"], "gateways": ["gw.istio-system"]}}
    response = handler.handle(request(legacy))
    assert response.allowed
    assert response.warnings == [
        'using legacy gatewayName format "gw.istio-system"; prefer the <namespace>/<name> '
        'format: "istio-system/gw" (spec.gateways[0])'
    ]


def test_unknown_top_level_fields_are_rejected_like_istio() -> None:
    extra = {**VS, "extra": 1}
    response = handler.handle(request(extra))
    assert response.status is not None
    assert response.status.message == (
        'unknown field "extra" on VirtualService resource default/reviews'
    )


def test_several_errors_are_joined_like_go_multierror() -> None:
    bad = {**VS, "spec": {"hosts": ["reviews"], "http": [{}, {}]}}
    response = handler.handle(request(bad))
    assert response.status is not None
    assert response.status.message == (
        "configuration is invalid: 2 errors occurred:\n"
        "\t* HTTP route, redirect or direct_response is required (spec.http[0])\n"
        "\t* HTTP route, redirect or direct_response is required (spec.http[1])\n\n"
    )


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({**VS, "spec": ["a"]}, 'spec in body must be of type object: "array"'),
        ({**VS, "spec": {"hosts": "reviews"}}, "spec.hosts in body must be of type array"),
        ({**VS, "spec": {"hosts": [["a"]]}}, "spec.hosts[0] in body must be of type string"),
        ({**VS, "metadata": "x"}, "cannot decode configuration"),
        ({**VS, "kind": 3}, "cannot decode configuration"),
        ({**VS, "spec": {"hosts": ["a"], "htttp": []}}, 'unknown field "spec.htttp"'),
    ],
)
def test_bad_shapes_are_rejections_with_a_message(obj: Any, expected: str) -> None:
    response = handler.handle(request(obj))
    assert not response.allowed
    assert response.status is not None
    assert expected in response.status.message


def test_a_missing_object_is_a_decode_error() -> None:
    response = handler.handle(request(None))
    assert not response.allowed
    assert response.audit_annotations == {"reason": "yaml_decode_error"}


def test_dry_run_annotation_is_only_for_authorization_policies() -> None:
    annotated = {**VS, "metadata": {**VS["metadata"], "annotations": {"istio.io/dry-run": "true"}}}
    response = handler.handle(request(annotated))
    assert response.status is not None
    assert "default/reviews has unsupported annotation istio.io/dry-run" in response.status.message


def test_http_errors_are_counted_for_the_server() -> None:
    before = sample(metrics.HTTP_ERROR, status="415")
    metrics.record_http_error(415)
    assert sample(metrics.HTTP_ERROR, status="415") == before + 1
