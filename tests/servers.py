"""Real servers for tests: uvicorn over TLS on a free loopback port, in a thread or a process."""

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from cryptography import x509
from fastapi import FastAPI

from webhooks.certs import issuing
from webhooks.server.tls import ReloadableTLS

JSON = {"Content-Type": "application/json"}


def admission_review(
    obj: dict[str, Any], *, uid: str, api_version: str = "admission.k8s.io/v1", **request: Any
) -> dict[str, Any]:
    """An AdmissionReview as the apiserver posts it (a Pod CREATE unless `request` overrides)."""
    return {
        "apiVersion": api_version,
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "default",
            "operation": "CREATE",
            "object": obj,
            **request,
        },
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def client_context(ca_pem: bytes) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=ca_pem.decode())
    return context


def peer_certificate(port: int, ca_pem: bytes, host: str = "127.0.0.1") -> x509.Certificate:
    """Open a fresh TLS connection (verified against ca_pem) and return the server's certificate."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        client_context(ca_pem).wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def write_pair(directory: Path, pair: issuing.KeyPair) -> tuple[Path, Path]:
    """Write cert then key through renames, as kubelet's atomic volume updates appear to readers."""
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    for path, data in ((cert_path, pair.cert_pem), (key_path, pair.key_pem)):
        scratch = path.with_suffix(".tmp")
        scratch.write_bytes(data)
        os.replace(scratch, path)
    return cert_path, key_path


@contextlib.contextmanager
def serve_app_in_thread(app: FastAPI, tls: ReloadableTLS) -> Iterator[int]:
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        ssl_context_factory=tls.uvicorn_factory(),
        lifespan="off",
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped before it started"
        assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def serve_cli(args: Sequence[str], port: int, ca_pem: bytes) -> Iterator[subprocess.Popen[bytes]]:
    """Run `mesh-webhooks <args>` in a child process until its port answers TLS.

    Output goes to a file, not a pipe: a chatty server must never block on a full pipe."""
    command = [sys.executable, "-m", "webhooks", *args]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

        def output() -> str:
            log.seek(0)
            return log.read().decode(errors="replace")

        try:
            deadline = time.monotonic() + 20
            while True:
                if process.poll() is not None:
                    raise AssertionError(f"server exited with {process.returncode}:\n{output()}")
                try:
                    peer_certificate(port, ca_pem)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"no TLS answer within 20 s:\n{output()}") from None
                    time.sleep(0.05)
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def posting_under_load(url: str, ca_pem: bytes, body: object) -> Iterator[list[int | str]]:
    """Two clients post `body` to `url` in a loop until the block ends, one opening a fresh
    connection (a new handshake) per request, one keeping its connection alive. Yields the
    outcomes as they accumulate: status codes, or the repr of a failure."""
    stop = threading.Event()
    outcomes: list[int | str] = []

    def post_forever(fresh_connections: bool) -> None:
        limits = httpx.Limits(max_keepalive_connections=0 if fresh_connections else 1)
        with httpx.Client(verify=client_context(ca_pem), limits=limits, timeout=5) as client:
            while not stop.is_set():
                try:
                    outcomes.append(client.post(url, json=body).status_code)
                except httpx.HTTPError as error:
                    outcomes.append(repr(error))

    workers = [threading.Thread(target=post_forever, args=(fresh,)) for fresh in (True, False)]
    for worker in workers:
        worker.start()
    try:
        yield outcomes
    finally:
        stop.set()
        for worker in workers:
            worker.join()
