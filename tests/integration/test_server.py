"""The real admission server over TLS on loopback: contract, bad input, metrics, readiness."""

import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from tests import servers
from webhooks.admission import responses
from webhooks.admission.review import AdmissionRequest, AdmissionResponse
from webhooks.certs import issuing
from webhooks.server import app as app_module
from webhooks.server.app import MAX_JSON_DEPTH, create_app
from webhooks.server.tls import ReloadableTLS

CA = issuing.create_ca("test CA")
SERVING = issuing.issue_serving_cert(CA, ["localhost", "127.0.0.1"])


def exploding_handler(request: AdmissionRequest) -> AdmissionResponse:
    raise RuntimeError("secret internals")


def echo_replicas(request: AdmissionRequest) -> AdmissionResponse:
    spec = (request.object or {}).get("spec", {})
    return responses.allow(request, warnings=[str(spec.get("replicas"))])


def deny_everything(request: AdmissionRequest) -> AdmissionResponse:
    return responses.deny(request, "denied by test", code=403)


def deny_with_audit(request: AdmissionRequest) -> AdmissionResponse:
    return responses.deny(request, "denied by test", audit={"reason": "test-says-no"})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    tls = ReloadableTLS()
    tls.load_pem(SERVING.cert_pem, SERVING.key_pem)
    handlers = {
        "/inject": responses.allow,
        "/validate": deny_everything,
        "/boom": exploding_handler,
        "/echo": echo_replicas,
        "/audited": deny_with_audit,
    }
    app = create_app(handlers, lambda: tls.loaded, max_body_bytes=64 * 1024)
    with servers.serve_app_in_thread(app, tls) as bound:
        yield bound


@pytest.fixture
def client(port: int) -> Iterator[httpx.Client]:
    context = servers.client_context(CA.cert_pem)
    with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=context) as session:
        yield session


def review(api_version: str = "admission.k8s.io/v1", uid: str = "1234") -> dict[str, object]:
    return servers.admission_review({"metadata": {"name": "p"}}, uid=uid, api_version=api_version)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_chain_verifies_with_the_generated_ca_for_ip_and_name(port: int, host: str) -> None:
    cert = servers.peer_certificate(port, CA.cert_pem, host=host)
    assert cert.serial_number == SERVING.cert.serial_number


def test_a_host_name_not_in_the_certificate_fails_verification(port: int) -> None:
    with pytest.raises(OSError, match="Hostname mismatch"):
        servers.peer_certificate(port, CA.cert_pem, host="webhook.example.com")


def test_tls_1_2_is_the_minimum(port: int) -> None:
    import socket
    import ssl

    from webhooks.server.tls import new_server_context

    assert new_server_context().minimum_version == ssl.TLSVersion.TLSv1_2
    capped = servers.client_context(CA.cert_pem)
    capped.maximum_version = ssl.TLSVersion.TLSv1_2
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        capped.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() == "TLSv1.2"


@pytest.mark.parametrize("version", ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"])
def test_reviews_are_answered_in_their_own_version_with_the_uid(
    client: httpx.Client, version: str
) -> None:
    reply = client.post("/inject", json=review(version, uid="u-" + version))
    assert reply.status_code == 200
    assert reply.json() == {
        "apiVersion": version,
        "kind": "AdmissionReview",
        "response": {"uid": "u-" + version, "allowed": True},
    }


def test_denials_are_http_200_with_status(client: httpx.Client) -> None:
    reply = client.post("/validate", json=review())
    assert reply.status_code == 200
    assert reply.json()["response"] == {
        "uid": "1234",
        "allowed": False,
        "status": {"code": 403, "message": "denied by test"},
    }


def post_raw(
    client: httpx.Client, body: bytes, content_type: str = "application/json"
) -> httpx.Response:
    return client.post("/inject", content=body, headers={"Content-Type": content_type})


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"{not json", "application/json", 400, "request body is not valid JSON"),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400, "nested deeper than"),
        (json.dumps(review()).encode(), "text/plain", 415, "Content-Type must be application/json"),
        (b"", "application/json", 400, "not valid JSON"),
        (b"[]", "application/json", 400, "must be a JSON object"),
        (
            b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}',
            "application/json",
            400,
            "AdmissionReview has no request",
        ),
        (
            b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}',
            "application/json",
            400,
            "request has no uid",
        ),
        (
            b'{"apiVersion": "v9", "kind": "AdmissionReview", "request": {"uid": "x"}}',
            "application/json",
            400,
            "invalid AdmissionReview: apiVersion",
        ),
        (
            b'{"apiVersion": "admission.k8s.io/v1", "request": {"uid": "x", "operation": "EAT"}}',
            "application/json",
            400,
            "request.operation",
        ),
    ],
    ids=[
        "not-json",
        "too-deep",
        "wrong-content-type",
        "empty",
        "not-an-object",
        "no-request",
        "no-uid",
        "bad-api-version",
        "bad-operation",
    ],
)
def test_bad_input_gets_a_clear_4xx(
    client: httpx.Client, body: bytes, content_type: str, status: int, message: str
) -> None:
    reply = post_raw(client, body, content_type)
    assert reply.status_code == status
    assert message in reply.json()["error"]
    assert "Traceback" not in reply.text


def nested_review(levels: int) -> bytes:
    """A review whose object holds a chain of `levels` nested objects."""
    document = review()
    nested: dict[str, object] = {}
    document["request"]["object"]["deep"] = nested  # type: ignore[index]
    for _ in range(levels):
        nested["x"] = nested = {}
    return json.dumps(document).encode()


def test_json_just_within_the_depth_limit_is_fine(client: httpx.Client) -> None:
    assert MAX_JSON_DEPTH == 200
    assert post_raw(client, nested_review(190)).status_code == 200


def test_json_just_over_the_depth_limit_is_refused(client: httpx.Client) -> None:
    reply = post_raw(client, nested_review(200))
    assert reply.status_code == 400
    assert reply.json() == {"error": "JSON nested deeper than 200 levels"}


def test_integers_of_any_size_reach_the_handler_exactly(client: httpx.Client) -> None:
    big = 2**80 + 1
    document = review(uid="big")
    document["request"]["object"]["spec"] = {"replicas": big}  # type: ignore[index]
    reply = client.post("/echo", json=document)
    assert reply.json()["response"]["warnings"] == [str(big)]


def test_a_body_over_the_limit_gets_413(client: httpx.Client) -> None:
    reply = post_raw(client, b" " * (64 * 1024 + 1))
    assert reply.status_code == 413
    assert "larger than 65536 bytes" in reply.json()["error"]


def test_a_body_over_the_limit_without_content_length_gets_413(client: httpx.Client) -> None:
    chunks = iter([b" " * 40_000, b" " * 40_000])
    reply = client.post("/inject", content=chunks, headers={"Content-Type": "application/json"})
    assert reply.status_code == 413
    assert reply.json() == {"error": "request body is larger than 65536 bytes"}


def test_a_failing_handler_gives_a_short_500_naming_the_uid(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    reply = client.post("/boom", json=review(uid="uid-500"))
    assert reply.status_code == 500
    assert reply.json() == {"error": "internal error while handling admission request uid-500"}
    assert "secret internals" not in reply.text
    failure = next(r for r in caplog.records if r.getMessage() == "admission handler failed")
    assert failure.__dict__["uid"] == "uid-500"


def test_fastapi_422_is_never_used(client: httpx.Client) -> None:
    reply = post_raw(client, b'{"apiVersion": "admission.k8s.io/v1", "request": {"uid": 5}}')
    assert reply.status_code == 400


def metric(client: httpx.Client, series: str) -> float:
    """The value of one series on /metrics (0 when it is not there yet)."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_health_readiness_and_metrics(client: httpx.Client) -> None:
    answered = 'webhook_requests_total{code="200",path="/inject"}'
    refused = 'webhook_requests_total{code="415",path="/inject"}'
    timed = 'webhook_request_duration_seconds_count{path="/inject"}'
    before = {series: metric(client, series) for series in (answered, refused, timed)}
    client.post("/inject", json=review())
    post_raw(client, b"{}", "text/plain")
    assert client.get("/healthz").text == "ok"
    assert client.get("/readyz").status_code == 200
    text = client.get("/metrics").text
    assert answered in text
    assert 'webhook_request_duration_seconds_bucket{le="0.001",path="/inject"}' in text
    assert metric(client, answered) == before[answered] + 1
    assert metric(client, refused) == before[refused] + 1
    assert metric(client, timed) == before[timed] + 2


def test_admission_paths_take_only_post(client: httpx.Client) -> None:
    reply = client.get("/inject")
    assert reply.status_code == 405
    assert reply.headers["allow"] == "POST"


def test_readyz_is_503_until_the_server_says_it_is_ready() -> None:
    tls = ReloadableTLS()
    tls.load_pem(SERVING.cert_pem, SERVING.key_pem)
    ready = False
    app = create_app({}, lambda: ready)
    context = servers.client_context(CA.cert_pem)
    with servers.serve_app_in_thread(app, tls) as bound:
        url = f"https://127.0.0.1:{bound}/readyz"
        assert httpx.get(url, verify=context).status_code == 503
        ready = True
        assert httpx.get(url, verify=context).status_code == 200


def test_admission_log_lines_carry_the_request_facts(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client.post("/audited", json=review(uid="log-me"))
    line = next(r for r in caplog.records if r.getMessage() == "admission")
    facts = line.__dict__
    assert facts["uid"] == "log-me"
    assert facts["kind"] == "Pod"
    assert facts["object"] == "default/p"
    assert facts["operation"] == "CREATE"
    assert facts["decision"] == "deny"
    assert facts["reason"] == "denied by test"
    assert facts["audit"] == {"reason": "test-says-no"}
    assert facts["duration_ms"] >= 0


def test_audit_annotations_reach_the_apiserver(client: httpx.Client) -> None:
    answered = client.post("/audited", json=review(uid="audited")).json()
    assert answered["response"]["auditAnnotations"] == {"reason": "test-says-no"}


def test_no_admission_log_line_is_built_below_info(
    client: httpx.Client, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING)

    def built(*args: object, **kwargs: object) -> None:
        raise AssertionError("the admission line was built with INFO off")

    monkeypatch.setattr(app_module.logger, "info", built)
    assert client.post("/audited", json=review(uid="quiet")).status_code == 200
