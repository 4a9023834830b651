"""validator.validate_object: the AuthorizationPolicy prefix and the GC pause."""

import gc
from typing import Any

import pytest

from webhooks.validate import validator


def policy(annotations: dict[str, str], spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "p", "namespace": "ns", "annotations": annotations},
        "spec": spec,
    }


def test_metadata_errors_of_a_policy_are_not_prefixed() -> None:
    document = policy({validator.ALWAYS_REJECT: "true"}, {"rules": [{}]})

    outcome = validator.validate_object(document)

    assert outcome.message == (
        'configuration is invalid: "internal.istio.io/webhook-always-reject" annotation found, '
        "rejecting"
    )


def test_only_the_policy_errors_are_prefixed() -> None:
    document = policy({validator.DRY_RUN: "maybe"}, {"action": "DENY"})

    outcome = validator.validate_object(document)

    lines = outcome.message.split("\n\t* ")
    assert lines[0] == "configuration is invalid: 2 errors occurred:"
    assert lines[1].startswith("ns/p has annotation istio.io/dry-run with invalid value (maybe)")
    assert lines[2].startswith("invalid policy p.ns: DENY action without `rules`")


def test_the_garbage_collector_is_enabled_again_after_an_exception(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(obj: Any, default_namespace: str) -> validator.Outcome:
        assert not gc.isenabled()
        raise RuntimeError("boom")

    monkeypatch.setattr(validator, "_validate", explode)
    assert gc.isenabled()

    with pytest.raises(RuntimeError):
        validator.validate_object({})

    assert gc.isenabled()


def test_a_paused_collector_stays_paused() -> None:
    gc.disable()
    try:
        validator.validate_object({})
        assert not gc.isenabled()
    finally:
        gc.enable()
