"""Whole messages where a case's substring is not enough: what Istio leaves out, and values
rendered as Istio renders them (never as Python objects)."""

from typing import Any

import pytest
from hypothesis import given, strategies as st

from tests.unit.validate.corpus import case_documents
from webhooks.validate import validator
from webhooks.validate.kinds import headers


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


_LONG = "1" * 5000  # past the 4,300 digits Python's int() reads
_ROUTE = [{"destination": {"host": "a"}}]


def _resource(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    group = "networking" if kind == "Sidecar" else "security"
    return {
        "apiVersion": f"{group}.istio.io/v1",
        "kind": kind,
        "metadata": {"name": "x", "namespace": "ns"},
        "spec": spec,
    }


_PORTS = {"rules": [{"to": [{"operation": {"ports": [_LONG]}}]}]}
_BITS = {"rules": [{"from": [{"source": {"ipBlocks": ["1.2.3.4/²"]}}]}]}
_PEER = {"selector": {"matchLabels": {"a": "b"}}, "portLevelMtls": {_LONG: {"mode": "STRICT"}}}
_JWKS = {"jwtRules": [{"issuer": "x", "jwksUri": f"https://a:{_LONG}/"}]}
_ENDPOINT = {
    "ingress": [
        {
            "port": {"number": 80, "protocol": "HTTP", "name": "http"},
            "defaultEndpoint": f"127.0.0.1:{_LONG}",
        }
    ]
}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            virtual_service([{"retries": {"retryOn": _LONG}, "route": _ROUTE}]),
            "not a valid retryOn",
        ),
        (virtual_service([{"timeout": f"{_LONG}s", "route": _ROUTE}]), "invalid duration"),
        (_resource("AuthorizationPolicy", _PORTS), "value out of range"),
        (_resource("AuthorizationPolicy", _BITS), 'bad bits after slash: "²"'),
        (_resource("PeerAuthentication", _PEER), "port must be in range 1..65535"),
        (_resource("RequestAuthentication", _JWKS), "value out of range"),
        (_resource("Sidecar", _ENDPOINT), "value out of range"),
    ],
)
def test_numbers_too_long_for_int_are_refused_with_go_s_message(
    document: dict[str, Any], message: str
) -> None:
    outcome = validator.validate_object(document, "ns")
    assert not outcome.allowed
    assert message in outcome.message


def test_a_port_with_thousands_of_leading_zeros_is_the_port_it_names() -> None:
    """Go's Atoi reads "000…080" as 80; Python's int() refused it and /validate crashed."""
    port = "0" * 5000 + "80"
    endpoint = {**_ENDPOINT["ingress"][0], "defaultEndpoint": f"127.0.0.1:{port}"}
    outcome = validator.validate_object(_resource("Sidecar", {"ingress": [endpoint]}), "ns")
    assert outcome.allowed, outcome.message


@given(st.text(alphabet='%()[]," \\ab', max_size=30))
def test_the_header_value_parser_answers_every_string(value: str) -> None:
    """A message or None, never an exception; a value without an unescaped % is fine."""
    problem = headers.format_error(value)
    assert problem is None or problem.startswith("invalid header configuration. ")
    if "%" not in value.replace("%%", ""):
        assert problem is None
