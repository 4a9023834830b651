"""Certificate files replaced on disk are served without a restart and without failed requests."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import servers
from webhooks.certs import issuing

HOSTS = ["localhost", "127.0.0.1"]
REVIEW = {
    "apiVersion": "admission.k8s.io/v1",
    "kind": "AdmissionReview",
    "request": {"uid": "reload", "object": {"metadata": {"name": "p"}}},
}


@pytest.fixture
def ca() -> issuing.KeyPair:
    return issuing.create_ca("reload test CA")


@pytest.fixture
def served(tmp_path: Path, ca: issuing.KeyPair) -> Iterator[tuple[int, issuing.KeyPair]]:
    first = issuing.issue_serving_cert(ca, HOSTS)
    cert_path, key_path = servers.write_pair(tmp_path, first)
    port = servers.free_port()
    args = [
        "serve", "--host", "127.0.0.1", "--port", str(port),
        "--tls-cert-file", str(cert_path), "--tls-key-file", str(key_path),
        "--cert-poll-seconds", "0.1",
    ]  # fmt: skip
    with servers.serve_cli(args, port, ca.cert_pem):
        yield port, first


def wait_for_serial(port: int, ca_pem: bytes, serial: int, timeout: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while servers.peer_certificate(port, ca_pem).serial_number != serial:
        assert time.monotonic() < deadline, "the new certificate was not served in time"
        time.sleep(0.05)


def test_swapping_the_files_under_load_drops_no_request(
    tmp_path: Path, ca: issuing.KeyPair, served: tuple[int, issuing.KeyPair]
) -> None:
    port, first = served
    url = f"https://127.0.0.1:{port}/validate"
    with servers.posting_under_load(url, ca.cert_pem, REVIEW) as outcomes:
        second = issuing.issue_serving_cert(ca, HOSTS)
        servers.write_pair(tmp_path, second)
        wait_for_serial(port, ca.cert_pem, second.cert.serial_number)
        third = issuing.issue_serving_cert(ca, HOSTS)
        servers.write_pair(tmp_path, third)
        wait_for_serial(port, ca.cert_pem, third.cert.serial_number)
    failures = [outcome for outcome in outcomes if outcome != 200]
    assert len(outcomes) > 20, "the load loop barely ran"
    assert failures == []
    assert first.cert.serial_number != third.cert.serial_number


def test_a_mismatched_pair_on_disk_leaves_the_old_certificate_serving(
    tmp_path: Path, ca: issuing.KeyPair, served: tuple[int, issuing.KeyPair]
) -> None:
    port, first = served
    other = issuing.issue_serving_cert(ca, HOSTS)
    mismatched = issuing.KeyPair(cert=other.cert, key=issuing.new_key())
    servers.write_pair(tmp_path, mismatched)
    import time

    time.sleep(0.5)  # several polls
    assert servers.peer_certificate(port, ca.cert_pem).serial_number == first.cert.serial_number
    context = servers.client_context(ca.cert_pem)
    reply = httpx.post(f"https://127.0.0.1:{port}/validate", json=REVIEW, verify=context)
    assert reply.status_code == 200
    # and a good pair written afterwards is picked up again
    good = issuing.issue_serving_cert(ca, HOSTS)
    servers.write_pair(tmp_path, good)
    wait_for_serial(port, ca.cert_pem, good.cert.serial_number)
