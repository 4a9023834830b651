"""bench/typical-pod-review.json, the review bench_inject measures, is the apiserver's version of
bench_inject.POD: if POD changes, rerun bench/capture_review.py."""

import jsonpatch

from bench import bench_inject
from webhooks.admission import responses
from webhooks.admission.review import AdmissionReview
from webhooks.inject import config, handler


def test_the_recorded_review_is_pod_as_the_apiserver_sent_it() -> None:
    review = AdmissionReview.model_validate(bench_inject.recorded_review())
    assert review.request is not None
    sent, written = review.request.object, bench_inject.POD
    assert isinstance(sent, dict)
    assert sent["metadata"]["labels"] == written["metadata"]["labels"]
    assert sent["metadata"]["annotations"] == written["metadata"]["annotations"]
    for sent_container, container in zip(
        sent["spec"]["containers"], written["spec"]["containers"], strict=True
    ):
        for field, value in container.items():
            if isinstance(value, dict):  # probes gain default thresholds
                assert value.items() <= sent_container[field].items()
            else:
                assert sent_container[field] == value
    # What the apiserver and its built-in admission plugins add before any webhook runs:
    assert any(volume["name"].startswith("kube-api-access-") for volume in sent["spec"]["volumes"])
    assert sent["spec"]["tolerations"]
    assert sent["metadata"]["managedFields"]


def test_the_recorded_pod_is_injected_and_the_patch_applies() -> None:
    review = AdmissionReview.model_validate(bench_inject.recorded_review())
    assert review.request is not None
    defaults = config.default_config()
    response = handler.make_handler(lambda: defaults, None)(review.request)
    assert response.allowed
    patched = jsonpatch.apply_patch(review.request.object, responses.decoded_patch(response))
    names = [container["name"] for container in patched["spec"]["containers"]]
    assert names == ["web", "metrics", "istio-proxy"]
