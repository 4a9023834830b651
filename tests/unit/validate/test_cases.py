"""Table-driven rules: cases/<kind>.yaml documents with `_expect: ok` or an error substring."""

from typing import Any

import pytest

from tests.unit.validate.corpus import case_documents
from webhooks.validate import validator

CASES = case_documents()


def test_every_kind_has_cases() -> None:
    kinds = {document["kind"] for _, _, _, document in CASES}
    assert len(kinds) >= 15


@pytest.mark.parametrize(
    ("case", "expect", "warn", "document"), CASES, ids=[c for c, _, _, _ in CASES]
)
def test_case(case: str, expect: str, warn: str | None, document: dict[str, Any]) -> None:
    outcome = validator.validate_object(document, "default")
    if expect == "ok":
        assert outcome.allowed, outcome.message
        if warn == "":
            assert outcome.warnings == ()
        elif warn is not None:
            assert any(warn in warning for warning in outcome.warnings), outcome.warnings
    else:
        assert not outcome.allowed, f"expected a rejection containing {expect!r}"
        assert expect in outcome.message
