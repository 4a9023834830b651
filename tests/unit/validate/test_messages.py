"""Whole messages where a case's substring is not enough: what Istio leaves out, and values
rendered as Istio renders them (never as Python objects)."""

from typing import Any

from tests.unit.validate.corpus import case_documents
from webhooks.validate import validator


def virtual_service(http: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "vs", "namespace": "ns"},
        "spec": {"hosts": ["a"], "http": http},
    }


def test_a_redirect_hides_the_conflicts_of_a_direct_response() -> None:
    route = {
        "redirect": {"uri": "/x"},
        "directResponse": {"status": 503},
        "route": [{"destination": {"host": "a"}}],
    }

    outcome = validator.validate_object(virtual_service([route]))

    assert outcome.message == (
        "configuration is invalid: 2 errors occurred:"
        "\n\t* HTTP route cannot contain both route and redirect (spec.http[0])"
        "\n\t* HTTP route rule cannot contain both direct_response and redirect (spec.http[0])"
        "\n\n"
    )


def test_no_message_shows_a_python_object() -> None:
    """A model's repr (`exact=None prefix=None`) in a message would be ours, never Istio's."""
    for case, _, _, document in case_documents():
        outcome = validator.validate_object(document, "default")
        for text in (outcome.message or "", *outcome.warnings):
            assert "=None" not in text, (case, text)
