"""Istio's own corpus: the dataset and the CRD test data (valid accepted, invalid rejected)."""

import copy
from typing import Any

import pytest

from tests.unit.validate.corpus import CORPUS, corpus_documents
from tests.unit.validate.corpus_reasons import WEBHOOK_TEXT
from webhooks.validate import validator

DATASET = corpus_documents("dataset/*.yaml")
VALID = corpus_documents("crds/*-valid.yaml")
INVALID = corpus_documents("crds/*-invalid.yaml")


def test_the_corpus_is_there() -> None:
    assert CORPUS.is_dir(), f"expected Istio's corpus at {CORPUS}"
    assert len(DATASET) == 33
    assert len(VALID) == 35
    assert len(INVALID) == 77


@pytest.mark.parametrize(("case", "document"), DATASET, ids=[c for c, _ in DATASET])
def test_dataset_documents_are_accepted(case: str, document: dict[str, Any]) -> None:
    outcome = validator.validate_object(document, "default")
    assert outcome.allowed, outcome.message


@pytest.mark.parametrize(("case", "document"), DATASET, ids=[c for c, _ in DATASET])
def test_dataset_documents_with_always_reject_are_rejected(
    case: str, document: dict[str, Any]
) -> None:
    annotated = copy.deepcopy(document)
    annotations = annotated["metadata"].setdefault("annotations", {})
    annotations["internal.istio.io/webhook-always-reject"] = "true"
    outcome = validator.validate_object(annotated, "default")
    assert not outcome.allowed
    assert '"internal.istio.io/webhook-always-reject" annotation found, rejecting' in (
        outcome.message
    )


@pytest.mark.parametrize(("case", "document"), VALID, ids=[c for c, _ in VALID])
def test_valid_crd_test_data_is_accepted(case: str, document: dict[str, Any]) -> None:
    outcome = validator.validate_object(document, "default")
    assert outcome.allowed, outcome.message


@pytest.mark.parametrize(("case", "document"), INVALID, ids=[c for c, _ in INVALID])
def test_invalid_crd_test_data_is_rejected(case: str, document: dict[str, Any]) -> None:
    stripped = {key: value for key, value in document.items() if key != "_err"}
    assert "_err" in document
    outcome = validator.validate_object(stripped, "default")
    assert not outcome.allowed
    assert outcome.message.startswith(("configuration is invalid: ", "error decoding"))
    expected = WEBHOOK_TEXT.get(case, document["_err"])
    assert expected in outcome.message


def test_the_reason_table_names_only_documents_that_need_it() -> None:
    by_case = dict(INVALID)
    for case in WEBHOOK_TEXT:
        assert WEBHOOK_TEXT[case] != by_case[case]["_err"]
        assert (
            by_case[case]["_err"]
            not in validator.validate_object(
                {key: value for key, value in by_case[case].items() if key != "_err"}, "default"
            ).message
        )
