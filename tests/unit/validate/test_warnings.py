"""Warnings that the case tables cannot rule out (EnvoyFilter always warns at least once)."""

from webhooks.validate import validator
from webhooks.validate.kinds import envoyfilter


def test_canonical_filter_names_give_only_the_envoyfilter_caution() -> None:
    chain = {
        "filter": {
            "name": "envoy.filters.network.http_connection_manager",
            "subFilter": {"name": "envoy.filters.http.router"},
        }
    }
    patch = {"applyTo": "HTTP_FILTER", "match": {"listener": {"filterChain": chain}}}
    document = {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "EnvoyFilter",
        "metadata": {"name": "ef", "namespace": "default"},
        "spec": {"configPatches": [{**patch, "patch": {"operation": "REMOVE"}}]},
    }
    outcome = validator.validate_object(document, "default")
    assert outcome.allowed, outcome.message
    assert outcome.warnings == (envoyfilter.ALWAYS_WARNING,)
