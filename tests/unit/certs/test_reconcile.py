"""caBundle patches, serving-cert renewal timing, the self-test verdicts, and RBAC scope."""

import base64
import datetime
from collections.abc import Iterator

import pytest
from cryptography import x509
from fastapi import FastAPI

from tests import servers
from tests.fakes.kubeapi import FakeKubeAPI, webhook_configuration
from webhooks import kube
from webhooks.admission.responses import allow, deny
from webhooks.admission.review import AdmissionRequest, AdmissionResponse
from webhooks.certs import cabundle, issuing, rotation, selftest
from webhooks.server.app import create_app
from webhooks.server.tls import ReloadableTLS

CA = issuing.create_ca("test CA")
OTHER = issuing.create_ca("test CA")  # same name, different key


def configuration(*bundles: bytes | None) -> kube.Object:
    hooks = iter([(f"hook{i}.example.io", "https://127.0.0.1:1/x") for i in range(len(bundles))])
    config = webhook_configuration(kube.VALIDATING, "vw", hooks)
    for webhook, bundle in zip(config["webhooks"], bundles, strict=True):
        if bundle is not None:
            webhook["clientConfig"]["caBundle"] = base64.b64encode(bundle).decode()
    return config


def test_only_webhooks_whose_bundle_differs_are_patched_each_pinned_by_name() -> None:
    config = configuration(CA.cert_pem, None, OTHER.cert_pem)
    operations = cabundle.patch_operations(config, CA.cert_pem, None)
    wanted = base64.b64encode(CA.cert_pem).decode()
    assert operations == [
        {"op": "test", "path": "/webhooks/1/name", "value": "hook1.example.io"},
        {"op": "add", "path": "/webhooks/1/clientConfig/caBundle", "value": wanted},
        {"op": "test", "path": "/webhooks/2/name", "value": "hook2.example.io"},
        {"op": "add", "path": "/webhooks/2/clientConfig/caBundle", "value": wanted},
    ]
    assert cabundle.patch_operations(configuration(CA.cert_pem), CA.cert_pem, None) == []


def test_failure_policy_is_patched_only_when_asked_and_different() -> None:
    config = configuration(CA.cert_pem)
    assert cabundle.patch_operations(config, CA.cert_pem, None) == []
    assert cabundle.patch_operations(config, CA.cert_pem, "Fail")[1:] == [
        {"op": "add", "path": "/webhooks/0/failurePolicy", "value": "Fail"}
    ]
    config["webhooks"][0]["failurePolicy"] = "Fail"
    assert cabundle.patch_operations(config, CA.cert_pem, "Fail") == []


def test_trust_means_the_ca_is_in_every_bundle() -> None:
    assert cabundle.trusts(configuration(CA.cert_pem + OTHER.cert_pem), CA.cert)
    assert not cabundle.trusts(configuration(CA.cert_pem, OTHER.cert_pem), CA.cert)
    assert not cabundle.trusts(configuration(b"garbage"), CA.cert)
    assert not cabundle.trusts(configuration(None), CA.cert)


def test_the_serving_cert_is_renewed_with_a_third_of_its_life_left() -> None:
    now = [datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)]
    tls = ReloadableTLS()
    rotator = rotation.ServingCertRotator(
        tls, rotation.service_hosts("svc", "ns"), clock=lambda: now[0]
    )
    rotator.use_ca(CA)
    first = tls.current
    assert first is not None
    assert first.not_after == now[0] + issuing.SERVING_VALIDITY
    now[0] += datetime.timedelta(days=19, hours=23)
    assert not rotator.check()
    now[0] += datetime.timedelta(hours=2)  # 20 days in: 10 of 30 left
    assert rotator.check()
    assert tls.current is not None
    assert tls.current.serial != first.serial
    before = tls.current.serial
    rotator.use_ca(CA)  # the same CA: nothing to do
    assert tls.current.serial == before
    rotator.use_ca(OTHER)
    assert tls.current.serial != before


def test_service_hosts_are_the_four_service_names_plus_extras() -> None:
    assert rotation.service_hosts("mw", "istio-system", ["127.0.0.1"]) == [
        "mw",
        "mw.istio-system",
        "mw.istio-system.svc",
        "mw.istio-system.svc.cluster.local",
        "127.0.0.1",
    ]


def rejecting_validator(request: AdmissionRequest) -> AdmissionResponse:
    annotations = (request.object or {}).get("metadata", {}).get("annotations") or {}
    if annotations.get(selftest.ALWAYS_REJECT_ANNOTATION) == "true":
        return deny(request, "always-reject annotation")
    return allow(request)


@pytest.fixture
def webhook_port() -> Iterator[tuple[int, FastAPI]]:
    app = create_app({"/validate": rejecting_validator, "/allow": allow}, lambda: True)
    tls = ReloadableTLS()
    leaf = issuing.issue_serving_cert(CA, ["127.0.0.1"])
    tls.load_pem(leaf.cert_pem, leaf.key_pem)
    with servers.serve_app_in_thread(app, tls) as port:
        yield port, app


def install(
    fake_api: FakeKubeAPI, url: str, bundle: bytes, revisions: list[str] | None = None
) -> None:
    """One validating webhook; `revisions`: a named revision's objectSelector, as the chart's."""
    config = webhook_configuration(kube.VALIDATING, "vw", iter([("validation.istio.io", url)]))
    config["webhooks"][0]["clientConfig"]["caBundle"] = base64.b64encode(bundle).decode()
    if revisions is not None:
        requirement = {"key": "istio.io/rev", "operator": "In", "values": revisions}
        config["webhooks"][0]["objectSelector"] = {"matchExpressions": [requirement]}
    fake_api.put(kube.VALIDATING, config)


def test_the_self_test_passes_only_when_our_webhook_denies_over_tls(
    client: kube.Kube, fake_api: FakeKubeAPI, webhook_port: tuple[int, FastAPI]
) -> None:
    port, _ = webhook_port
    install(fake_api, f"https://127.0.0.1:{port}/validate", CA.cert_pem)
    verdict = selftest.run(client, "istio-system", "default")
    assert verdict.passed, verdict.detail
    # a webhook that admits everything is not proof
    install(fake_api, f"https://127.0.0.1:{port}/allow", CA.cert_pem)
    assert not selftest.run(client, "istio-system", "default").passed
    # nor is a caBundle the apiserver cannot verify us with (failurePolicy Ignore admits)
    install(fake_api, f"https://127.0.0.1:{port}/validate", OTHER.cert_pem)
    assert not selftest.run(client, "istio-system", "default").passed


def test_the_self_test_reaches_a_named_revisions_webhook_through_its_label(
    client: kube.Kube, fake_api: FakeKubeAPI, webhook_port: tuple[int, FastAPI]
) -> None:
    """A named revision's webhook sees only objects labelled istio.io/rev with it or a tag: the
    Gateway carries the revision, or a revision-only install would never fail closed."""
    port, _ = webhook_port
    url = f"https://127.0.0.1:{port}/validate"
    install(fake_api, url, CA.cert_pem, revisions=["canary", "prod-stable"])
    assert selftest.run(client, "istio-system", "canary").passed
    verdict = selftest.run(client, "istio-system", "default")  # not its revision: not reached
    assert not verdict.passed
    assert verdict.detail == "the always-reject Gateway was admitted: webhook not reached yet"
    gateway = selftest.invalid_gateway("istio-system", "canary")
    assert gateway["metadata"]["labels"] == {"istio.io/rev": "canary"}


def test_a_missing_gateway_crd_counts_as_ready_like_istio(
    client: kube.Kube, fake_api: FakeKubeAPI
) -> None:
    fake_api.gateway_crd_installed = False
    verdict = selftest.run(client, "istio-system", "default")
    assert verdict.passed
    assert "not installed" in verdict.detail


def test_a_404_for_anything_but_the_gateway_type_is_not_ready() -> None:
    """A wrong --namespace must not read as a missing CRD: that would fail closed unproven."""
    missing_namespace = kube.KubeError(404, "NotFound", 'namespaces "istio-sistem" not found')
    assert not selftest.judge(missing_namespace).passed


def test_other_dry_run_errors_are_not_ready() -> None:
    error = kube.KubeError(500, "InternalError", 'failed calling webhook "x": connection refused')
    assert not selftest.judge(error).passed
    assert selftest.judge(kube.KubeError(400, "BadRequest", "does not support dry run")).passed


class RecordingTLS(ReloadableTLS):
    """The real TLS holder, remembering the certificates it was given."""

    loaded_pems: list[bytes]

    def load_pem(self, cert_pem: bytes, key_pem: bytes) -> None:
        super().load_pem(cert_pem, key_pem)
        self.loaded_pems = [*getattr(self, "loaded_pems", []), cert_pem]


def test_the_serving_cert_is_backdated_five_minutes_and_valid_for_its_validity_from_now() -> None:
    now = datetime.datetime(2030, 1, 1, 12, 0, tzinfo=datetime.UTC)
    tls = RecordingTLS()
    rotation.ServingCertRotator(tls, ["svc"], clock=lambda: now).use_ca(CA)
    [pem] = tls.loaded_pems
    served = x509.load_pem_x509_certificate(pem)
    assert served.not_valid_before_utc == now - datetime.timedelta(minutes=5)
    assert served.not_valid_after_utc == now + datetime.timedelta(days=30)
