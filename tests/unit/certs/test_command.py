"""`certs issue` writes a usable set; `certs check` tells a matching caBundle from a stale one."""

import base64
from pathlib import Path

import pytest
from cryptography import x509

from tests.fakes.kubeapi import FakeKubeAPI, webhook_configuration
from webhooks import cli, kube
from webhooks.certs import issuing, secret


def test_issue_writes_a_chain_for_the_service_names(tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["certs", "issue", "--service", "mw", "--namespace", "ns", "--out", str(out)]
    assert cli.main(argv) == 0
    ca = issuing.load_key_pair((out / "ca.crt").read_bytes(), (out / "ca.key").read_bytes())
    leaf = issuing.load_key_pair((out / "tls.crt").read_bytes(), (out / "tls.key").read_bytes())
    leaf.cert.verify_directly_issued_by(ca.cert)
    names = leaf.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "mw.ns.svc" in names.get_values_for_type(x509.DNSName)
    assert (out / "tls.key").stat().st_mode & 0o777 == 0o600


def test_check_reports_matching_and_stale_bundles(
    fake_api: FakeKubeAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca, stale = issuing.create_ca("ca"), issuing.create_ca("ca")
    fake_api.put("secrets", secret.secret_body("mw-ca", ca, None), "ns")
    for kind, name, bundle in (
        (kube.MUTATING, "mw-sidecar-injector", ca.cert_pem),
        (kube.VALIDATING, "mw-validator", stale.cert_pem),
    ):
        config = webhook_configuration(kind, name, iter([("hook.io", "https://x/")]))
        config["webhooks"][0]["clientConfig"]["caBundle"] = base64.b64encode(bundle).decode()
        fake_api.put(kind, config)
    kubeconfig = fake_api.write_kubeconfig(tmp_path / "kubeconfig")
    argv = ["certs", "check", "--kubeconfig", str(kubeconfig), "--namespace", "ns"]
    assert cli.main([*argv, "--service", "mw"]) == 1
    report = capsys.readouterr().out
    assert "CA Secret ns/mw-ca: expires" in report
    assert (
        "mutatingwebhookconfigurations/mw-sidecar-injector webhook hook.io: caBundle matches"
        in report
    )
    assert (
        "validatingwebhookconfigurations/mw-validator webhook hook.io: caBundle DOES NOT" in report
    )
