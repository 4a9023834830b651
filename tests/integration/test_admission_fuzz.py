"""AdmissionReviews of every shape, posted over TLS to the real /inject and /validate handlers:
the answer is always a review (HTTP 200) or a 4xx that says what is wrong, never a 500."""

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings, strategies as st

from tests import servers
from webhooks.certs import issuing
from webhooks.inject.config import InjectConfig
from webhooks.inject.handler import make_handler
from webhooks.server.app import create_app
from webhooks.server.tls import ReloadableTLS
from webhooks.validate import handler as validate_handler

CA = issuing.create_ca("fuzz CA")
SERVING = issuing.issue_serving_cert(CA, ["127.0.0.1"])
CONFIG = InjectConfig()

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"generateName": "shop-", "labels": {"app": "shop"}},
    "spec": {
        "containers": [
            {
                "name": "shop",
                "image": "shop:1",
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
            }
        ]
    },
}
VIRTUAL_SERVICE = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "shop", "namespace": "default"},
    "spec": {"hosts": ["shop"], "http": [{"route": [{"destination": {"host": "shop"}}]}]},
}
SUBJECTS = {
    "/inject": servers.admission_review(POD, uid="fuzz"),
    "/validate": servers.admission_review(
        VIRTUAL_SERVICE,
        uid="fuzz",
        kind={"group": "networking.istio.io", "version": "v1", "kind": "VirtualService"},
        resource={"group": "networking.istio.io", "version": "v1", "resource": "virtualservices"},
    ),
}

# Where a review's shape can be wrong, and what can be there instead.
PLACES = (
    ("apiVersion",),
    ("kind",),
    ("request",),
    ("request", "uid"),
    ("request", "kind"),
    ("request", "kind", "kind"),
    ("request", "resource"),
    ("request", "subResource"),
    ("request", "requestKind"),
    ("request", "name"),
    ("request", "namespace"),
    ("request", "operation"),
    ("request", "userInfo"),
    ("request", "userInfo", "groups"),
    ("request", "object"),
    ("request", "object", "metadata"),
    ("request", "object", "spec"),
    ("request", "object", "kind"),
    ("request", "oldObject"),
    ("request", "options"),
    ("request", "dryRun"),
    ("response",),
)
VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)  # JSON has neither
    | st.sampled_from(["", "x", "Pod", "UPDATE", "DELETE", "admission.k8s.io/v1beta1"])
    | st.lists(st.integers(0, 3), max_size=2)
    | st.dictionaries(st.sampled_from(["kind", "name", "uid", "spec"]), st.text(max_size=3))
)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    tls = ReloadableTLS()
    tls.load_pem(SERVING.cert_pem, SERVING.key_pem)
    handlers = {"/inject": make_handler(lambda: CONFIG), "/validate": validate_handler.handle}
    app = create_app(handlers, lambda: True)
    context = servers.client_context(CA.cert_pem)
    with (
        servers.serve_app_in_thread(app, tls) as port,
        httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=context) as session,
    ):
        yield session


def _reshaped(review: dict[str, Any], changes: list[tuple[tuple[str, ...], Any]]) -> Any:
    reshaped = copy.deepcopy(review)
    for (*parents, last), value in changes:
        holder: Any = reshaped
        for step in parents:
            holder = holder.get(step) if isinstance(holder, dict) else None
        if isinstance(holder, dict):
            holder[last] = value
    return reshaped


@settings(max_examples=60)
@given(
    st.sampled_from(sorted(SUBJECTS)),
    st.lists(st.tuples(st.sampled_from(PLACES), VALUES), min_size=1, max_size=3),
)
def test_no_review_shape_gets_a_500(
    client: httpx.Client, path: str, changes: list[tuple[tuple[str, ...], Any]]
) -> None:
    reply = client.post(path, json=_reshaped(SUBJECTS[path], changes))
    assert reply.status_code in (200, 400), reply.text
    if reply.status_code == 400:
        assert reply.json()["error"]
        return
    answer = reply.json()
    assert answer["kind"] == "AdmissionReview"
    assert isinstance(answer["response"]["allowed"], bool)
