"""The CA Secret: one CA per release, races settled by 409s, key-reusing renewal, bad Secrets."""

import datetime
import logging
import threading

import pytest
from cryptography import x509
from cryptography.x509 import verification

from tests.fakes.kubeapi import Call, FakeKubeAPI
from webhooks import kube
from webhooks.certs import issuing, secret

NS, NAME = "istio-system", "mesh-webhooks-ca"
NOW = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
HOST = "mesh-webhooks.istio-system.svc"


def stored_pair(fake_api: FakeKubeAPI) -> issuing.KeyPair:
    stored = fake_api.get("secrets", NAME, NS)
    assert stored is not None
    return secret.parse_ca(kube.decode_data(stored))


def store(client: kube.Kube, at: datetime.datetime = NOW) -> secret.CAStore:
    return secret.CAStore(client, NS, NAME, clock=lambda: at)


def verifies(leaf: x509.Certificate, ca: x509.Certificate, at: datetime.datetime) -> bool:
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store([ca]))
        .time(at)
        .build_server_verifier(x509.DNSName(HOST))
    )
    try:
        verifier.verify(leaf, [])
    except verification.VerificationError:
        return False
    return True


def test_the_first_replica_creates_a_tls_secret_with_a_ca(
    client: kube.Kube, fake_api: FakeKubeAPI
) -> None:
    pair = store(client).sync()
    stored = fake_api.get("secrets", NAME, NS)
    assert stored is not None
    assert stored["type"] == "kubernetes.io/tls"
    assert stored["metadata"]["labels"][secret.MANAGED_BY_LABEL] == secret.MANAGER
    assert stored_pair(fake_api).cert == pair.cert
    assert pair.cert.not_valid_after_utc - pair.cert.not_valid_before_utc == issuing.CA_VALIDITY


def test_a_long_namespace_still_gets_a_ca_and_a_verifying_chain(
    client: kube.Kube, fake_api: FakeKubeAPI
) -> None:
    """`<secret>.<namespace>` can pass X.509's 64-character common name: the CA is named with
    the first 64, and a release in a 63-character namespace still starts."""
    namespace = "n" * 63
    pair = secret.CAStore(client, namespace, NAME, clock=lambda: NOW).sync()
    [name] = pair.cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    assert name.value == f"{NAME}.{namespace}"[:64]
    leaf = issuing.issue_serving_cert(pair, [HOST], now=NOW)
    assert verifies(leaf.cert, pair.cert, NOW)


def test_a_replica_that_loses_the_create_race_adopts_the_winners_ca(
    client: kube.Kube, fake_api: FakeKubeAPI
) -> None:
    winner = issuing.create_ca("winner")

    def other_replica_creates_first(api: FakeKubeAPI, call: Call) -> None:
        if call.verb == "create" and api.get("secrets", NAME, NS) is None:
            api.put("secrets", secret.secret_body(NAME, winner, None), NS)

    fake_api.before = other_replica_creates_first
    pair = store(client).sync()
    assert pair.cert == winner.cert
    assert [c.verb for c in fake_api.calls] == ["get", "create", "get"]


def test_many_replicas_starting_at_once_end_with_one_ca(
    client: kube.Kube, fake_api: FakeKubeAPI
) -> None:
    results: list[issuing.KeyPair] = []
    start = threading.Barrier(8)

    def replica() -> None:
        start.wait()
        results.append(store(client).sync())

    threads = [threading.Thread(target=replica) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert {pair.cert.fingerprint(issuing.hashes.SHA256()) for pair in results} == {
        stored_pair(fake_api).cert.fingerprint(issuing.hashes.SHA256())
    }
    assert sum(1 for c in fake_api.calls if c.verb == "create") >= 1


def test_renewal_reuses_key_and_subject_so_old_and_new_chains_both_verify(
    client: kube.Kube, fake_api: FakeKubeAPI
) -> None:
    old = store(client, NOW).sync()
    late = NOW + issuing.CA_VALIDITY * 0.85  # less than 20% of life left
    # a leaf that replicas still serve, signed by the old CA just before the renewal
    old_leaf = issuing.issue_serving_cert(old, [HOST], now=late - datetime.timedelta(days=1))
    assert store(client, NOW + issuing.CA_VALIDITY * 0.7).sync().cert == old.cert  # not yet
    new = store(client, late).sync()
    assert new.cert != old.cert
    assert new.cert.subject == old.cert.subject
    assert new.key.private_numbers() == old.key.private_numbers()
    assert stored_pair(fake_api).cert == new.cert
    new_leaf = issuing.issue_serving_cert(new, [HOST], now=late)
    assert verifies(old_leaf.cert, new.cert, late)
    assert verifies(old_leaf.cert, old.cert, late)
    assert verifies(new_leaf.cert, old.cert, late)
    assert verifies(new_leaf.cert, new.cert, late)
    # and a CA with a fresh key under the same name would not do: the test can fail
    stranger = issuing.create_ca(old.cert.subject, now=NOW)
    assert not verifies(new_leaf.cert, stranger.cert, late)


def test_a_renewal_race_is_settled_by_resource_version(
    client: kube.Kube, fake_api: FakeKubeAPI
) -> None:
    old = store(client, NOW).sync()
    late = NOW + issuing.CA_VALIDITY * 0.9
    others = issuing.create_ca(old.cert.subject, key=old.key, now=late)

    def other_replica_renews_first(api: FakeKubeAPI, call: Call) -> None:
        current = api.get("secrets", NAME, NS)
        assert current is not None
        if call.verb == "update" and stored_pair(api).cert == old.cert:
            api.put("secrets", secret.secret_body(NAME, others, current), NS)

    fake_api.before = other_replica_renews_first
    assert store(client, late).sync().cert == others.cert


def test_an_expired_ca_found_at_start_is_renewed(client: kube.Kube, fake_api: FakeKubeAPI) -> None:
    ancient = issuing.create_ca("old", now=NOW - issuing.CA_VALIDITY - datetime.timedelta(days=3))
    fake_api.put("secrets", secret.secret_body(NAME, ancient, None), NS)
    pair = store(client).sync()
    assert pair.cert.not_valid_after_utc > NOW + datetime.timedelta(days=3000)
    assert pair.key.private_numbers() == ancient.key.private_numbers()
    assert stored_pair(fake_api).cert == pair.cert


GARBAGE = {"tls.crt": b"not a certificate", "tls.key": b"nor a key", "ca.crt": b"junk"}


def garbage_secret(labelled: bool) -> kube.Object:
    labels = {secret.MANAGED_BY_LABEL: secret.MANAGER} if labelled else {"team": "payments"}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": NAME, "labels": labels},
        "type": "Opaque",
        "data": kube.encode_data(GARBAGE),
    }


def test_a_foreign_secret_holding_garbage_is_refused_clearly_and_left_alone(
    client: kube.Kube, fake_api: FakeKubeAPI
) -> None:
    before = fake_api.put("secrets", garbage_secret(labelled=False), NS)
    with pytest.raises(secret.UnusableCASecret) as refused:
        store(client).sync()
    message = str(refused.value)
    assert f"{NS}/{NAME}" in message
    assert "not a usable ECDSA pair" in message
    assert "left untouched" in message
    assert fake_api.get("secrets", NAME, NS) == before
    assert [c.verb for c in fake_api.calls] == ["get"]


def test_our_own_secret_holding_garbage_is_replaced_with_a_log_line_saying_why(
    client: kube.Kube, fake_api: FakeKubeAPI, caplog: pytest.LogCaptureFixture
) -> None:
    fake_api.put("secrets", garbage_secret(labelled=True), NS)
    with caplog.at_level(logging.ERROR, logger="webhooks.certs.secret"):
        pair = store(client).sync()
    stored = fake_api.get("secrets", NAME, NS)
    assert stored is not None
    assert stored["type"] == "Opaque"  # the type is immutable: kept
    assert stored_pair(fake_api).cert == pair.cert
    [record] = caplog.records
    assert "replacing it" in record.getMessage()
    assert "tls.crt/tls.key" in record.__dict__["problem"]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({}, "missing or empty keys: tls.crt, tls.key, ca.crt"),
        ({**GARBAGE, "ca.crt": b""}, "missing or empty keys: ca.crt"),
        (GARBAGE, "not a usable ECDSA pair"),
    ],
)
def test_parse_ca_says_what_is_wrong(data: dict[str, bytes], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        secret.parse_ca(data)


def test_parse_ca_refuses_a_leaf_and_a_mismatched_bundle() -> None:
    ca = issuing.create_ca("ca")
    leaf = issuing.issue_serving_cert(ca, [HOST])
    data = {"tls.crt": leaf.cert_pem, "tls.key": leaf.key_pem, "ca.crt": leaf.cert_pem}
    with pytest.raises(ValueError, match="not a CA certificate"):
        secret.parse_ca(data)
    data = {"tls.crt": ca.cert_pem, "tls.key": ca.key_pem, "ca.crt": leaf.cert_pem}
    with pytest.raises(ValueError, match=r"ca\.crt differs"):
        secret.parse_ca(data)
