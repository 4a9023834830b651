"""The shortcuts of the per-request path keep Istio's answers: error order, paths, GC state."""

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from webhooks.validate import validator


def virtual_service(*routes: dict[str, Any], **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "reviews", "namespace": "default", "annotations": annotations},
        "spec": {"hosts": ["reviews"], "http": list(routes)},
    }


def route(**fields: Any) -> dict[str, Any]:
    return {"match": [{"uri": {"prefix": "/"}}], **fields}


def weighted(*destinations: dict[str, Any], weights: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    return [
        {"destination": destination, **({"weight": weights[i]} if weights else {})}
        for i, destination in enumerate(destinations)
    ]


def test_metadata_errors_come_before_rule_errors() -> None:
    bad = route(route=weighted({"host": "reviews"}, weights=(-1,)))
    outcome = validator.validate_object(
        virtual_service(bad, **{"internal.istio.io/webhook-always-reject": "true"})
    )
    assert not outcome.allowed
    assert outcome.message.startswith("configuration is invalid: 2 errors occurred:\n\t* ")
    first, second = outcome.message.split("\n\t* ")[1:]
    assert first == '"internal.istio.io/webhook-always-reject" annotation found, rejecting'
    assert second.startswith("weight -1 < 0 (spec.http[0].route[0].weight)")


def test_dry_run_annotation_is_refused_outside_authorization_policy() -> None:
    obj = virtual_service(
        route(route=weighted({"host": "reviews"})), **{"istio.io/dry-run": "true"}
    )
    outcome = validator.validate_object(obj)
    assert not outcome.allowed
    assert "default/reviews has unsupported annotation istio.io/dry-run" in outcome.message


def test_a_bad_retry_on_list_is_reported_for_every_route_that_uses_it() -> None:
    retries = {"attempts": 2, "retryOn": "5xx,bogus"}
    first = route(route=weighted({"host": "reviews"}), retries=retries)
    second = {"route": weighted({"host": "reviews"}), "retries": retries}
    outcome = validator.validate_object(virtual_service(first, second))
    assert not outcome.allowed
    for index in (0, 1):
        expected = f'"bogus" is not a valid retryOn policy (spec.http[{index}].retries.retryOn)'
        assert expected in outcome.message


@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        ({"host": "*"}, "invalid destination host * (spec.http[0].route[1].destination.host)"),
        (
            {"host": "reviews", "subset": "v_1"},
            "subset name is invalid: v_1 (spec.http[0].route[1].destination.subset)",
        ),
        (
            {"host": "reviews", "port": {"number": 70000}},
            "port number 70000 must be in the range 1..65535 "
            "(spec.http[0].route[1].destination.port.number)",
        ),
    ],
)
def test_destination_errors_name_the_field(destination: dict[str, Any], expected: str) -> None:
    destinations = weighted({"host": "reviews"}, destination, weights=(50, 50))
    outcome = validator.validate_object(virtual_service(route(route=destinations)))
    assert outcome.message == f"configuration is invalid: {expected}"


def test_weights_that_cancel_out_are_not_a_zero_total() -> None:
    destinations = weighted({"host": "reviews"}, {"host": "ratings"}, weights=(-10, 10))
    outcome = validator.validate_object(virtual_service(route(route=destinations)))
    assert (
        outcome.message == "configuration is invalid: weight -10 < 0 (spec.http[0].route[0].weight)"
    )


@pytest.fixture
def collector_state() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.usefixtures("collector_state")
@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_left_as_it_was_found(enabled: bool) -> None:
    if enabled:
        gc.enable()
    else:
        gc.disable()
    for obj in (virtual_service(route(route=weighted({"host": "reviews"}))), {"spec": []}, []):
        validator.validate_object(obj)
        assert gc.isenabled() is enabled
