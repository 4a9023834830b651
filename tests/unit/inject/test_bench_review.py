"""bench/typical-pod-review.json, the review bench_inject measures, is the apiserver's version of
bench_inject.POD: if POD changes, rerun bench/capture_review.py."""

import copy
from typing import Any

import jsonpatch

from bench import bench_inject
from webhooks.admission import responses
from webhooks.admission.review import AdmissionReview
from webhooks.inject import config, handler


def covers(sent: Any, written: Any) -> bool:
    """`sent` holds all of `written`: the apiserver only adds (defaults, and its admission
    plugins' volumes, mounts and tolerations), so each map may have more keys and each list
    more elements at its end."""
    if isinstance(written, dict):
        return isinstance(sent, dict) and all(
            key in sent and covers(sent[key], value) for key, value in written.items()
        )
    if isinstance(written, list):
        return (
            isinstance(sent, list) and len(sent) >= len(written) and all(map(covers, sent, written))
        )
    return bool(sent == written and type(sent) is type(written))


def test_the_recorded_review_is_pod_as_the_apiserver_sent_it() -> None:
    review = AdmissionReview.model_validate(bench_inject.recorded_review())
    assert review.request is not None
    sent = review.request.object
    assert covers(sent, bench_inject.POD)
    # What the apiserver and its built-in admission plugins add before any webhook runs:
    assert isinstance(sent, dict)
    assert any(volume["name"].startswith("kube-api-access-") for volume in sent["spec"]["volumes"])
    assert sent["spec"]["tolerations"]
    assert sent["metadata"]["managedFields"]


def test_covers_notices_a_change() -> None:
    changed = copy.deepcopy(bench_inject.POD)
    changed["spec"]["volumes"][0]["name"] = "other"
    assert covers(bench_inject.POD, bench_inject.POD)
    assert not covers(bench_inject.POD, changed)
    assert not covers({"a": [1]}, {"a": [1, 2]})
    assert not covers({"a": 1}, {"a": True})


def test_the_recorded_pod_is_injected_and_the_patch_applies() -> None:
    review = AdmissionReview.model_validate(bench_inject.recorded_review())
    assert review.request is not None
    defaults = config.default_config()
    response = handler.make_handler(lambda: defaults, None)(review.request)
    assert response.allowed
    patched = jsonpatch.apply_patch(review.request.object, responses.decoded_patch(response))
    names = [container["name"] for container in patched["spec"]["containers"]]
    assert names == ["web", "metrics", "istio-proxy"]
