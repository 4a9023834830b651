import pytest
from pydantic import ValidationError

from webhooks.admission import responses
from webhooks.admission.review import AdmissionRequest, AdmissionReview, answer


def review(api_version: str = "admission.k8s.io/v1", **request: object) -> dict[str, object]:
    return {
        "apiVersion": api_version,
        "kind": "AdmissionReview",
        "request": {"uid": "abc", **request},
    }


@pytest.mark.parametrize("version", ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"])
def test_the_answer_uses_the_api_version_of_the_request(version: str) -> None:
    parsed = AdmissionReview.model_validate(review(version))
    assert parsed.request is not None
    out = answer(parsed.api_version, responses.allow(parsed.request)).to_json_dict()
    assert out == {
        "apiVersion": version,
        "kind": "AdmissionReview",
        "response": {"uid": "abc", "allowed": True},
    }


def test_unknown_api_versions_are_refused() -> None:
    with pytest.raises(ValidationError):
        AdmissionReview.model_validate(review("admission.k8s.io/v2"))


def test_embedded_objects_keep_every_field_untouched() -> None:
    pod = {"metadata": {"name": "p", "x-unknown": {"nested": [1, None, "s"]}}, "spec": {}}
    parsed = AdmissionReview.model_validate(review(object=pod, oldObject=None))
    assert parsed.request is not None
    assert parsed.request.object == pod
    assert parsed.request.old_object is None


def test_generate_name_stands_in_for_a_missing_name() -> None:
    request = AdmissionRequest.model_validate(
        {"uid": "u", "object": {"metadata": {"generateName": "web-7d9f-"}}}
    )
    assert request.object_name == "web-7d9f-"


def test_deny_carries_code_message_and_warnings() -> None:
    request = AdmissionRequest(uid="u")
    response = responses.deny(request, "no", code=403, warnings=["careful"])
    assert response.model_dump(by_alias=True, exclude_none=True) == {
        "uid": "u",
        "allowed": False,
        "status": {"code": 403, "message": "no"},
        "warnings": ["careful"],
    }


def test_patch_is_base64_json_with_patch_type() -> None:
    request = AdmissionRequest(uid="u")
    ops = [{"op": "add", "path": "/metadata/labels/a~1b", "value": "c"}]
    response = responses.patched(request, ops)
    dumped = response.model_dump(by_alias=True, exclude_none=True)
    assert dumped["patchType"] == "JSONPatch"
    assert responses.decoded_patch(response) == ops


def test_an_empty_patch_sends_neither_patch_nor_patch_type() -> None:
    response = responses.patched(AdmissionRequest(uid="u"), [])
    assert response.patch is None
    assert response.patch_type is None
    assert response.allowed
