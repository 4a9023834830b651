"""`serve` in cluster mode (self-managed TLS), as real processes against the FAKE Kubernetes API.

Each replica is `python -m webhooks serve --kubeconfig <fake>`; the fake apiserver holds the CA
Secret and the two webhook configurations (url clientConfigs to the replicas' ports).
"""

import base64
import datetime
import json
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest
from cryptography import x509
from prometheus_client import parser

from tests import servers
from tests.fakes.kubeapi import ApiError, Call, FakeKubeAPI, webhook_configuration
from webhooks import kube
from webhooks.certs import issuing, secret

NS, SERVICE = "istio-system", "mesh-webhooks"
CA_SECRET = f"{SERVICE}-ca"
MUTATING, VALIDATING = "mesh-webhooks-sidecar-injector", "mesh-webhooks-validator"
REVIEW = {
    "apiVersion": "admission.k8s.io/v1",
    "kind": "AdmissionReview",
    "request": {"uid": "load", "object": {"metadata": {"name": "p"}}},
}


# The RBAC the chart grants: (resource, verb) -> the names allowed (None: any, since `create`
# cannot be restricted by resourceNames).
RBAC: dict[tuple[str, str], set[str] | None] = {
    ("secrets", "get"): {CA_SECRET},
    ("secrets", "update"): {CA_SECRET},
    ("secrets", "create"): None,
    ("mutatingwebhookconfigurations", "get"): {MUTATING},
    ("mutatingwebhookconfigurations", "patch"): {MUTATING},
    ("validatingwebhookconfigurations", "get"): {VALIDATING},
    ("validatingwebhookconfigurations", "patch"): {VALIDATING},
    ("gateways", "create"): None,
}


def outside_rbac(fake_api: FakeKubeAPI) -> list[object]:
    def allowed(call: Call) -> bool:
        names = RBAC.get((call.resource, call.verb), set())
        return names is None or call.name in names

    return [call for call in fake_api.calls if not allowed(call)]


class Replica:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: IO[bytes]) -> None:
        self.process, self.port, self._log = process, port, log

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def logged(self, message: str, **fields: object) -> list[dict[str, object]]:
        """The JSON log lines with this message whose fields include `fields`."""
        entries = []
        for line in self.output().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("msg") == message and fields.items() <= entry.items():
                entries.append(entry)
        return entries


@pytest.fixture
def fake_api() -> Iterator[FakeKubeAPI]:
    with FakeKubeAPI() as api:
        yield api


@pytest.fixture
def start(fake_api: FakeKubeAPI, tmp_path: Path) -> Iterator[Callable[..., Replica]]:
    """Starts replicas; the configurations point at the first replica's port (url mode)."""
    kubeconfig = fake_api.write_kubeconfig(tmp_path / "kubeconfig")
    started: list[Replica] = []
    first_port = servers.free_port()
    for kind, name, hook, path in (
        (kube.MUTATING, MUTATING, "sidecar-injector.istio.io", "inject"),
        (kube.VALIDATING, VALIDATING, "validation.istio.io", "validate"),
    ):
        url = f"https://127.0.0.1:{first_port}/{path}"
        fake_api.put(kind, webhook_configuration(kind, name, iter([(hook, url)])))

    def launch(*extra: str, self_mode: bool = True) -> Replica:
        port = first_port if not started else servers.free_port()
        command = [
            sys.executable, "-m", "webhooks", "serve", "--host", "127.0.0.1",
            "--port", str(port), "--namespace", NS, "--kubeconfig", str(kubeconfig),
            "--mutating-webhook-config", MUTATING, "--validating-webhook-config", VALIDATING,
            "--cabundle-poll-seconds", "0.3", *extra,
        ]  # fmt: skip
        if self_mode:
            command += ["--service", SERVICE, "--extra-san", "127.0.0.1", "--ca-check-seconds", "1"]
        log = tempfile.TemporaryFile()  # noqa: SIM115 - closed at teardown, after the process
        replica = Replica(
            subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), port, log
        )
        started.append(replica)
        return replica

    yield launch
    for replica in started:
        replica.process.send_signal(signal.SIGTERM)
    for replica in started:
        try:
            replica.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            replica.process.kill()
            replica.process.wait()
        replica._log.close()


def stored_ca(fake_api: FakeKubeAPI) -> issuing.KeyPair | None:
    stored = fake_api.get("secrets", CA_SECRET, NS)
    if stored is None:
        return None
    try:
        return secret.parse_ca(kube.decode_data(stored))
    except ValueError:
        return None


def wait_until(check: Callable[[], bool], what: str, replica: Replica, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if replica.process.poll() is not None:
            raise AssertionError(f"replica exited while waiting for {what}:\n{replica.output()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{replica.output()}")
        time.sleep(0.05)


def readyz(replica: Replica, ca: issuing.KeyPair | None) -> int | None:
    """The status of /readyz over TLS verified with `ca`; None if there is no answer yet."""
    if ca is None:
        return None
    try:
        context = servers.client_context(ca.cert_pem)
        reply = httpx.get(f"https://127.0.0.1:{replica.port}/readyz", verify=context, timeout=2)
    except httpx.HTTPError:
        return None
    return reply.status_code


def is_ready(fake_api: FakeKubeAPI, replica: Replica) -> bool:
    return readyz(replica, stored_ca(fake_api)) == 200


def bundles(fake_api: FakeKubeAPI) -> list[bytes]:
    found = []
    for kind, name in ((kube.MUTATING, MUTATING), (kube.VALIDATING, VALIDATING)):
        configuration = fake_api.get(kind, name)
        assert configuration is not None
        for webhook in configuration["webhooks"]:
            found.append(base64.b64decode(webhook["clientConfig"].get("caBundle", "")))
    return found


def test_two_replicas_starting_at_once_end_with_one_ca_in_both_bundles(
    fake_api: FakeKubeAPI, start: Callable[..., Replica]
) -> None:
    replicas = [start(), start()]
    for replica in replicas:
        wait_until(lambda r=replica: is_ready(fake_api, r), "readiness", replica)
    ca = stored_ca(fake_api)
    assert ca is not None
    assert bundles(fake_api) == [ca.cert_pem, ca.cert_pem]
    for replica in replicas:
        served = servers.peer_certificate(replica.port, ca.cert_pem)  # verifies the chain
        served.verify_directly_issued_by(ca.cert)
        names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert f"{SERVICE}.{NS}.svc" in names.get_values_for_type(x509.DNSName)
    assert sum(
        1 for call in fake_api.calls if call.verb == "create" and call.resource == "secrets"
    ) in (1, 2)
    assert sum(1 for call in fake_api.calls if call.verb == "update") == 0
    wait_until(
        lambda: any(c.resource == "gateways" for c in fake_api.calls), "self-test", replicas[0]
    )
    assert all(c.dry_run for c in fake_api.calls if c.resource == "gateways")
    assert outside_rbac(fake_api) == []


def test_a_blanked_ca_bundle_is_restored_within_seconds(
    fake_api: FakeKubeAPI, start: Callable[..., Replica]
) -> None:
    replica = start()
    wait_until(lambda: is_ready(fake_api, replica), "readiness", replica)
    configuration = fake_api.get(kube.VALIDATING, VALIDATING)
    assert configuration is not None
    patched = {"configuration": f"{kube.VALIDATING}/{VALIDATING}", "fields": ["caBundle"]}
    patches_before = len(replica.logged("patched webhook configuration", **patched))
    assert patches_before >= 1  # the first patch at startup
    configuration["webhooks"][0]["clientConfig"]["caBundle"] = base64.b64encode(b"\n").decode()
    fake_api.put(kube.VALIDATING, configuration)
    blanked = time.monotonic()
    ca = stored_ca(fake_api)
    assert ca is not None
    wait_until(lambda: bundles(fake_api)[1] == ca.cert_pem, "caBundle restore", replica, 5)
    assert time.monotonic() - blanked < 5
    # the restore was this replica's patch of just the caBundle, logged as such
    wait_until(
        lambda: len(replica.logged("patched webhook configuration", **patched)) > patches_before,
        "the log line of the restoring patch",
        replica,
        5,
    )


def test_an_expired_ca_found_at_start_is_renewed_and_served(
    fake_api: FakeKubeAPI, start: Callable[..., Replica]
) -> None:
    long_ago = (
        datetime.datetime.now(datetime.UTC) - issuing.CA_VALIDITY - datetime.timedelta(days=1)
    )
    expired = issuing.create_ca(f"{CA_SECRET}.{NS}", now=long_ago)
    fake_api.put("secrets", secret.secret_body(CA_SECRET, expired, None), NS)
    replica = start()
    wait_until(lambda: is_ready(fake_api, replica), "readiness", replica)
    ca = stored_ca(fake_api)
    assert ca is not None
    assert ca.cert != expired.cert
    assert ca.cert.not_valid_after_utc > datetime.datetime.now(datetime.UTC)
    assert ca.key.private_numbers() == expired.key.private_numbers()
    served = servers.peer_certificate(replica.port, ca.cert_pem)
    served.verify_directly_issued_by(ca.cert)
    assert bundles(fake_api) == [ca.cert_pem, ca.cert_pem]


def test_a_foreign_secret_holding_garbage_is_left_alone_with_a_clear_error(
    fake_api: FakeKubeAPI, start: Callable[..., Replica]
) -> None:
    garbage = {"tls.crt": b"garbage", "tls.key": b"garbage", "ca.crt": b"garbage"}
    before = fake_api.put(
        "secrets",
        {"metadata": {"name": CA_SECRET}, "type": "Opaque", "data": kube.encode_data(garbage)},
        NS,
    )
    replica = start()
    wait_until(lambda: "left untouched" in replica.output(), "the error log line", replica)
    time.sleep(1.0)  # several more attempts
    assert fake_api.get("secrets", CA_SECRET, NS) == before
    assert not any(call.verb == "update" for call in fake_api.calls)
    assert f"{NS}/{CA_SECRET}" in replica.output()
    assert bundles(fake_api) == [b"", b""]
    # and deleting it, as the message says, lets the replica recover
    with fake_api._lock:
        del fake_api._objects[("secrets", NS, CA_SECRET)]
    wait_until(lambda: is_ready(fake_api, replica), "readiness after the fix", replica)


def test_serving_cert_rotation_under_load_fails_no_handshake(
    fake_api: FakeKubeAPI, start: Callable[..., Replica]
) -> None:
    # 3 s certificates renewed after 2 s: a rotation every ~2 s while clients hammer the server.
    replica = start("--serving-cert-validity", "3s", "--serving-cert-check-seconds", "0.1")
    wait_until(lambda: is_ready(fake_api, replica), "readiness", replica)
    ca = stored_ca(fake_api)
    assert ca is not None
    serials: set[int] = set()
    url = f"https://127.0.0.1:{replica.port}/validate"
    with servers.posting_under_load(url, ca.cert_pem, REVIEW) as outcomes:
        deadline = time.monotonic() + 7
        while time.monotonic() < deadline:
            serials.add(servers.peer_certificate(replica.port, ca.cert_pem).serial_number)
            time.sleep(0.1)
    assert len(serials) >= 3, "the serving certificate did not rotate"
    assert len(outcomes) > 50
    assert [outcome for outcome in outcomes if outcome != 200] == []


def test_readyz_is_503_while_a_bundle_lacks_the_ca_and_200_once_it_holds_it(
    fake_api: FakeKubeAPI, start: Callable[..., Replica]
) -> None:
    def refuse_patches(api: FakeKubeAPI, call: Call) -> None:
        if call.verb == "patch":
            raise ApiError(503, "ServiceUnavailable", "patches refused by the test")

    fake_api.before = refuse_patches
    replica = start()
    # serving with its certificate, but neither configuration trusts the CA yet
    wait_until(lambda: readyz(replica, stored_ca(fake_api)) == 503, "a 503", replica)
    time.sleep(1.0)  # several reconcile attempts, all refused
    assert readyz(replica, stored_ca(fake_api)) == 503
    assert bundles(fake_api) == [b"", b""]
    fake_api.before = None
    wait_until(lambda: is_ready(fake_api, replica), "readiness once patches land", replica)
    ca = stored_ca(fake_api)
    assert ca is not None
    assert bundles(fake_api) == [ca.cert_pem, ca.cert_pem]


@pytest.mark.parametrize("deleted", [VALIDATING, MUTATING])
def test_a_deleted_configuration_leaves_the_replicas_ready_for_the_other(
    fake_api: FakeKubeAPI, start: Callable[..., Replica], deleted: str
) -> None:
    """Deleting one webhook configuration in an incident must not empty the Service that the
    other one calls: nothing calls us through a configuration that is gone."""
    replica = start()
    wait_until(lambda: is_ready(fake_api, replica), "readiness", replica)
    kinds = {MUTATING: kube.MUTATING, VALIDATING: kube.VALIDATING}
    fake_api.delete(kinds[deleted], deleted)
    wait_until(
        lambda: "webhook configuration not found" in replica.output(), "the warning", replica
    )
    time.sleep(1.0)  # several polls of 0.3 s
    ca = stored_ca(fake_api)
    assert readyz(replica, ca) == 200
    assert ca is not None
    samples = scrape(replica, ca)
    # the gauge still says the deleted one is not in sync, for whoever alerts on it
    for name, in_sync in ((deleted, 0), *((other, 1) for other in kinds if other != deleted)):
        key = ("webhook_cabundle_in_sync", frozenset({("configuration", f"{kinds[name]}/{name}")}))
        assert samples[key] == in_sync


def serves_a_cert_from(replica: Replica, ca: issuing.KeyPair) -> bool:
    try:
        servers.peer_certificate(replica.port, ca.cert_pem)  # verifies the chain against `ca`
    except ssl.SSLError:
        return False
    return True


def test_a_ca_changed_in_the_secret_is_adopted_by_the_next_periodic_read(
    fake_api: FakeKubeAPI, start: Callable[..., Replica]
) -> None:
    replica = start()
    wait_until(lambda: is_ready(fake_api, replica), "readiness", replica)
    old = stored_ca(fake_api)
    assert old is not None
    current = fake_api.get("secrets", CA_SECRET, NS)
    new = issuing.create_ca("a CA someone put in the Secret")
    fake_api.put("secrets", secret.secret_body(CA_SECRET, new, current), NS)
    assert not serves_a_cert_from(replica, new)
    wait_until(lambda: serves_a_cert_from(replica, new), "a certificate from the new CA", replica)
    assert not serves_a_cert_from(replica, old)
    wait_until(lambda: bundles(fake_api) == [new.cert_pem] * 2, "both bundles", replica)
    wait_until(lambda: is_ready(fake_api, replica), "readiness with the new CA", replica)
    assert replica.logged("CA in use", how="adopted")


def scrape(replica: Replica, ca: issuing.KeyPair) -> dict[tuple[str, frozenset[object]], float]:
    context = servers.client_context(ca.cert_pem)
    text = httpx.get(f"https://127.0.0.1:{replica.port}/metrics", verify=context, timeout=5).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in parser.text_string_to_metric_families(text)
        for sample in family.samples
    }


def validating_policies(fake_api: FakeKubeAPI) -> list[str]:
    configuration = fake_api.get(kube.VALIDATING, VALIDATING)
    assert configuration is not None
    return [webhook["failurePolicy"] for webhook in configuration["webhooks"]]


def test_certificate_metrics_have_values_after_a_run(
    fake_api: FakeKubeAPI, start: Callable[..., Replica]
) -> None:
    replica = start()
    wait_until(lambda: is_ready(fake_api, replica), "readiness", replica)
    wait_until(lambda: validating_policies(fake_api) == ["Fail"], "failurePolicy Fail", replica)
    ca = stored_ca(fake_api)
    assert ca is not None
    served = servers.peer_certificate(replica.port, ca.cert_pem)
    values = scrape(replica, ca)

    def value(name: str, **labels: str) -> float | None:
        return values.get((name, frozenset(labels.items())))

    assert (
        value("webhook_ca_cert_expiry_timestamp_seconds") == ca.cert.not_valid_after_utc.timestamp()
    )
    assert (
        value("webhook_serving_cert_expiry_timestamp_seconds")
        == served.not_valid_after_utc.timestamp()
    )
    assert value("webhook_ca_changes_total", reason="created") == 1
    assert value("webhook_serving_cert_rotations_total", reason="initial") == 1
    for configuration in (f"{kube.MUTATING}/{MUTATING}", f"{kube.VALIDATING}/{VALIDATING}"):
        assert (
            value("webhook_cabundle_patches_total", configuration=configuration, result="patched")
            or 0
        ) >= 1
        assert value("webhook_cabundle_in_sync", configuration=configuration) == 1
    # caBundle first, failurePolicy after the self-test: two patches of the validating one
    validating = f"{kube.VALIDATING}/{VALIDATING}"
    assert value("webhook_cabundle_patches_total", configuration=validating, result="patched") == 2
    assert value("webhook_self_test_runs_total", outcome="passed") == 1
    assert value("webhook_fail_closed") == 1


def user_certificates(fake_api: FakeKubeAPI, directory: Path) -> tuple[issuing.KeyPair, Path, Path]:
    """External mode: the user's CA in both caBundles and their serving pair in files."""
    ca = issuing.create_ca("the user's CA")
    cert, key = servers.write_pair(directory, issuing.issue_serving_cert(ca, ["127.0.0.1"]))
    for kind, name in ((kube.MUTATING, MUTATING), (kube.VALIDATING, VALIDATING)):
        configuration = fake_api.get(kind, name)
        assert configuration is not None
        for webhook in configuration["webhooks"]:
            webhook["clientConfig"]["caBundle"] = base64.b64encode(ca.cert_pem).decode()
        fake_api.put(kind, configuration)
    return ca, cert, key


# What file modes need: the self-test and the failurePolicy patch, nothing else.
FILE_MODE_RBAC = {
    ("validatingwebhookconfigurations", "get"),
    ("validatingwebhookconfigurations", "patch"),
    ("gateways", "create"),
}


def test_file_mode_fails_closed_after_the_self_test_and_leaves_the_bundles_alone(
    fake_api: FakeKubeAPI, start: Callable[..., Replica], tmp_path: Path
) -> None:
    ca, cert, key = user_certificates(fake_api, tmp_path)
    files = ["--tls-cert-file", str(cert), "--tls-key-file", str(key)]
    replica = start("--cert-mode", "external", *files, self_mode=False)
    assert validating_policies(fake_api) == ["Ignore"]
    wait_until(lambda: validating_policies(fake_api) == ["Fail"], "failurePolicy Fail", replica)
    assert readyz(replica, ca) == 200
    assert bundles(fake_api) == [ca.cert_pem, ca.cert_pem]
    assert {(call.resource, call.verb) for call in fake_api.calls} <= FILE_MODE_RBAC
    assert all(call.name == VALIDATING for call in fake_api.calls if call.resource != "gateways")
    assert all(call.dry_run for call in fake_api.calls if call.resource == "gateways")
    assert replica.logged("self-test", passed=True)


def test_file_mode_with_no_fail_closed_leaves_ignore(
    fake_api: FakeKubeAPI, start: Callable[..., Replica], tmp_path: Path
) -> None:
    ca, cert, key = user_certificates(fake_api, tmp_path)
    files = ["--tls-cert-file", str(cert), "--tls-key-file", str(key)]
    replica = start("--cert-mode", "cert-manager", *files, "--no-fail-closed", self_mode=False)
    wait_until(lambda: readyz(replica, ca) == 200, "readiness", replica)
    time.sleep(1.5)  # many reconcile periods
    assert validating_policies(fake_api) == ["Ignore"]
    assert fake_api.calls == []


def test_serve_with_an_unusable_kubeconfig_says_so_in_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "kubeconfig"
    broken.write_text(": : not yaml [")
    command = [sys.executable, "-m", "webhooks", "serve", "--kubeconfig", str(broken)]
    done = subprocess.run(
        [*command, "--namespace", NS, "--service", SERVICE],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"serve: cannot load Kubernetes credentials from {broken}: ")
