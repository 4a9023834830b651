"""`certs issue` writes a usable set; `certs check` reports the CA, the serving certificate and
whether each caBundle holds the CA, in every mode."""

import base64
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from tests import servers
from tests.fakes.kubeapi import Call, FakeKubeAPI, webhook_configuration
from webhooks import cli, kube
from webhooks.certs import issuing, secret
from webhooks.server.app import create_app
from webhooks.server.tls import ReloadableTLS


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


def install_bundles(fake_api: FakeKubeAPI, pem: bytes) -> None:
    for kind, name in ((kube.MUTATING, "mw-sidecar-injector"), (kube.VALIDATING, "mw-validator")):
        config = webhook_configuration(kind, name, iter([("hook.io", "https://x/")]))
        config["webhooks"][0]["clientConfig"]["caBundle"] = base64.b64encode(pem).decode()
        fake_api.put(kind, config)


def check_argv(fake_api: FakeKubeAPI, tmp_path: Path, *extra: str) -> list[str]:
    kubeconfig = fake_api.write_kubeconfig(tmp_path / "kubeconfig")
    return ["certs", "check", "--kubeconfig", str(kubeconfig), "--namespace", "ns", *extra]


def test_check_finds_a_named_revisions_configurations(
    fake_api: FakeKubeAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = issuing.create_ca("ca")
    fake_api.put("secrets", secret.secret_body("mw-ca", ca, None), "ns")
    for kind, name in (
        (kube.MUTATING, "mw-sidecar-injector-canary"),
        (kube.VALIDATING, "mw-validator-canary"),
    ):
        config = webhook_configuration(kind, name, iter([("hook.io", "https://x/")]))
        config["webhooks"][0]["clientConfig"]["caBundle"] = base64.b64encode(ca.cert_pem).decode()
        fake_api.put(kind, config)
    argv = check_argv(fake_api, tmp_path, "--service", "mw", "--revision", "canary")
    assert cli.main(argv) == 0
    report = capsys.readouterr().out
    assert (
        "validatingwebhookconfigurations/mw-validator-canary webhook hook.io: caBundle matches"
        in report
    )


def test_check_in_cert_manager_mode_reads_the_serving_secret(
    fake_api: FakeKubeAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = issuing.create_ca("cert-manager CA")
    leaf = issuing.issue_serving_cert(ca, ["mw.ns.svc"])
    data = {"tls.crt": leaf.cert_pem, "tls.key": leaf.key_pem, "ca.crt": ca.cert_pem}
    tls_secret = {"metadata": {"name": "mw-tls"}, "type": "kubernetes.io/tls"}
    fake_api.put("secrets", {**tls_secret, "data": kube.encode_data(data)}, "ns")
    install_bundles(fake_api, ca.cert_pem)
    argv = check_argv(fake_api, tmp_path, "--service", "mw", "--tls-secret", "mw-tls")
    assert cli.main(argv) == 0
    report = capsys.readouterr().out
    assert "CA (ca.crt of Secret ns/mw-tls): expires" in report
    assert "serving certificate Secret ns/mw-tls: expires" in report
    assert "(ok), issued by the CA" in report
    assert report.count("caBundle matches the CA") == 2
    # a Secret whose ca.crt is another CA: nothing matches any more
    other = issuing.create_ca("someone else")
    data["ca.crt"] = other.cert_pem
    fake_api.put("secrets", {**tls_secret, "data": kube.encode_data(data)}, "ns")
    assert cli.main(argv) == 1
    report = capsys.readouterr().out
    assert "NOT issued by the CA" in report
    assert report.count("caBundle DOES NOT match the CA") == 2


def test_check_reads_the_serving_secret_once_so_a_rotation_cannot_split_it(
    fake_api: FakeKubeAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def pair(name: str) -> dict[str, Any]:
        ca = issuing.create_ca(name)
        leaf = issuing.issue_serving_cert(ca, ["mw.ns.svc"])
        data = {"tls.crt": leaf.cert_pem, "tls.key": leaf.key_pem, "ca.crt": ca.cert_pem}
        secret = {"metadata": {"name": "mw-tls"}, "type": "kubernetes.io/tls"}
        return {**secret, "data": kube.encode_data(data)}

    before, after = pair("old CA"), pair("new CA")
    fake_api.put("secrets", before, "ns")
    install_bundles(fake_api, base64.b64decode(before["data"]["ca.crt"]))

    def rotate_after_the_first_read(api: FakeKubeAPI, call: Call) -> None:
        if call.resource == "secrets" and sum(c.resource == "secrets" for c in api.calls) == 2:
            api.put("secrets", after, "ns")  # cert-manager rotated it in between

    fake_api.before = rotate_after_the_first_read
    argv = check_argv(fake_api, tmp_path, "--service", "mw", "--tls-secret", "mw-tls")
    assert cli.main(argv) == 0
    assert "(ok), issued by the CA" in capsys.readouterr().out
    assert [c.name for c in fake_api.calls if c.resource == "secrets"] == ["mw-tls"]


def test_check_reads_the_certificate_a_server_presents(
    fake_api: FakeKubeAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = issuing.create_ca("external CA")
    (tmp_path / "ca.crt").write_bytes(ca.cert_pem)
    install_bundles(fake_api, ca.cert_pem)
    tls = ReloadableTLS()
    leaf = issuing.issue_serving_cert(ca, ["127.0.0.1"])
    tls.load_pem(leaf.cert_pem, leaf.key_pem)
    app = create_app({}, lambda: True)
    with servers.serve_app_in_thread(app, tls) as port:
        argv = check_argv(
            fake_api, tmp_path, "--service", "mw", "--ca-file", str(tmp_path / "ca.crt")
        )
        assert cli.main([*argv, "--server", f"https://127.0.0.1:{port}"]) == 0
        report = capsys.readouterr().out
        expires = f"{leaf.cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC (ok)"
        assert (
            f"serving certificate served at https://127.0.0.1:{port}: expires {expires}" in report
        )
        assert f"CA file {tmp_path / 'ca.crt'}: expires" in report


def test_check_says_what_is_missing_in_one_line(
    fake_api: FakeKubeAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(check_argv(fake_api, tmp_path, "--service", "mw")) == 1
    assert capsys.readouterr().out == "CA Secret ns/mw-ca: NOT FOUND\n"
    broken = tmp_path / "broken"
    broken.write_text(": : not yaml [")
    assert cli.main(["certs", "check", "--kubeconfig", str(broken)]) == 1
    output = capsys.readouterr()  # an error, not a finding: on stderr, stdout stays empty
    [line] = output.err.splitlines()
    assert line.startswith(f"cannot check: cannot load Kubernetes credentials from {broken}: ")
    assert output.out == ""
