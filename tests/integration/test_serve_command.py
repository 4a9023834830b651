"""`mesh-webhooks serve` as users run it: local mode, file mode before its files exist, uvloop."""

import json
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from tests import servers
from webhooks.certs import issuing


def wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def local_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    port = servers.free_port()
    certs = tmp_path / "certs"
    command = [sys.executable, "-m", "webhooks", "serve", "--local", "--port", str(port),
               "--certs-dir", str(certs)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        yield process, port, certs
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        assert process.stdout is not None
        process.stdout.close()


def read_banner(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    lines = []
    while not lines or lines[-1].strip() != "":
        line = process.stdout.readline()
        assert line, "the server exited before printing its banner"
        if lines or line.startswith("mesh-webhooks is serving"):
            lines.append(line)
    while len(lines) < 8:
        lines.append(process.stdout.readline())
    return "".join(lines)


def test_local_mode_writes_its_certificates_and_prints_a_working_curl(
    local_server: tuple[subprocess.Popen[str], int, Path],
) -> None:
    process, port, certs = local_server
    banner = read_banner(process)
    ca_pem = (certs / "ca.crt").read_bytes()
    serving = x509.load_pem_x509_certificate((certs / "tls.crt").read_bytes())
    key = issuing.load_key_pair((certs / "tls.crt").read_bytes(), (certs / "tls.key").read_bytes())
    assert isinstance(key.key.curve, ec.SECP256R1)
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(v) for v in names.get_values_for_type(x509.DNSName)} == {"localhost"}
    assert {str(v) for v in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1"}
    assert (certs / "tls.key").stat().st_mode & 0o777 == 0o600
    import base64

    assert base64.b64encode(ca_pem).decode() in banner
    curl = banner[banner.index("curl ") :].replace("\\\n", " ")
    words = shlex.split(curl)
    body = words[words.index("-d") + 1]
    url = next(word for word in words if word.startswith("https://"))
    assert url == f"https://127.0.0.1:{port}/inject"
    wait_for(lambda: _answers(port, ca_pem))
    reply = httpx.post(url, content=body, headers=servers.JSON,
                       verify=servers.client_context(ca_pem))  # fmt: skip
    assert reply.status_code == 200
    assert reply.json()["response"]["patchType"] == "JSONPatch"


def _answers(port: int, ca_pem: bytes) -> bool:
    try:
        servers.peer_certificate(port, ca_pem)
    except OSError:
        return False
    return True


def test_local_mode_reuses_valid_certificates(tmp_path: Path) -> None:
    from webhooks.certs import local

    first = local.ensure(tmp_path)
    serial = x509.load_pem_x509_certificate(first.cert.read_bytes()).serial_number
    again = local.ensure(tmp_path)
    assert x509.load_pem_x509_certificate(again.cert.read_bytes()).serial_number == serial
    (tmp_path / "tls.key").write_bytes(issuing.issue_self_signed("other").key_pem)  # mismatch
    replaced = local.ensure(tmp_path)
    assert x509.load_pem_x509_certificate(replaced.cert.read_bytes()).serial_number != serial


def test_local_mode_replaces_certificates_its_ca_did_not_sign(tmp_path: Path) -> None:
    from webhooks.certs import local

    first = local.ensure(tmp_path)
    serial = x509.load_pem_x509_certificate(first.cert.read_bytes()).serial_number
    stranger = issuing.create_ca("mesh-webhooks local CA")  # same name, another key
    first.ca.write_bytes(stranger.cert_pem)
    replaced = local.ensure(tmp_path)
    assert x509.load_pem_x509_certificate(replaced.cert.read_bytes()).serial_number != serial
    ca = x509.load_pem_x509_certificate(replaced.ca.read_bytes())
    assert issuing.issued_by(x509.load_pem_x509_certificate(replaced.cert.read_bytes()), ca)


def test_file_mode_is_live_but_not_ready_until_its_certificate_appears(tmp_path: Path) -> None:
    ca = issuing.create_ca("late CA")
    port = servers.free_port()
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    command = [sys.executable, "-m", "webhooks", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
               "--cert-poll-seconds", "0.1"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"https://127.0.0.1:{port}"
    try:
        # Before the files exist a placeholder completes handshakes (kubelet does not verify).
        wait_for(lambda: _status(f"{base}/healthz", verify=False) == 200)
        assert _status(f"{base}/readyz", verify=False) == 503
        servers.write_pair(tmp_path, issuing.issue_serving_cert(ca, ["127.0.0.1"]))
        context = servers.client_context(ca.cert_pem)
        wait_for(lambda: _status(f"{base}/readyz", verify=context) == 200)
        maps = Path(f"/proc/{process.pid}/maps").read_text()
        assert re.search(r"uvloop/loop\..*\.so", maps), "the server does not run on uvloop"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


def _status(url: str, verify: object) -> int:
    try:
        return httpx.get(url, verify=verify, timeout=2).status_code  # type: ignore[arg-type]
    except httpx.HTTPError:
        return 0


def test_log_lines_are_json_with_the_extra_fields() -> None:
    import logging

    from webhooks.cli import JsonLogFormatter

    record = logging.makeLogRecord(
        {
            "name": "webhooks.test",
            "levelname": "INFO",
            "msg": "admission %s",
            "args": ("x",),
            "uid": "u-1",
            "decision": "patch",
            "audit": {"reason": "policy-enabled"},
            "color_message": "ignored",
        }
    )
    formatter = JsonLogFormatter()
    entry = json.loads(formatter.format(record))
    assert entry["msg"] == "admission x"
    assert entry["level"] == "info"
    assert entry["uid"] == "u-1"
    assert entry["decision"] == "patch"
    assert entry["audit"] == {"reason": "policy-enabled"}
    assert "color_message" not in entry
    record.big = 2**70  # beyond orjson: the standard library writes it
    assert json.loads(formatter.format(record))["big"] == 2**70
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
