"""A server TLS context whose certificate can be replaced while it serves.

Every accepted connection copies the certificate out of the context at handshake time, so
`load_cert_chain` on the live context changes what new handshakes see and leaves open
connections alone. A new pair is always tried on a scratch context first: a failed load on the
live context would leave it unable to complete any handshake.
"""

import asyncio
import contextlib
import datetime
import hashlib
import logging
import os
import ssl
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from webhooks.certs import issuing

logger = logging.getLogger(__name__)

# Keys are written for a moment only, and to memory where the platform allows it.
_KEY_SCRATCH_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None


@dataclass(frozen=True)
class ServingCert:
    """What is being served right now."""

    serial: int
    not_after: datetime.datetime


def new_server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    context.set_alpn_protocols(["http/1.1"])
    return context


@contextlib.contextmanager
def _pem_files(cert_pem: bytes, key_pem: bytes) -> Iterator[tuple[str, str]]:
    """`load_cert_chain` only takes paths: write the pair to private files, then remove them."""
    with tempfile.TemporaryDirectory(dir=_KEY_SCRATCH_DIR, prefix="mesh-webhooks-tls-") as tmp:
        cert_path, key_path = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
        for path, data in ((cert_path, cert_pem), (key_path, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        yield cert_path, key_path


def pair_digest(cert_pem: bytes, key_pem: bytes) -> bytes:
    return hashlib.sha256(cert_pem + b"\0" + key_pem).digest()


def describe(cert_pem: bytes) -> ServingCert:
    cert = x509.load_pem_x509_certificate(cert_pem)
    return ServingCert(serial=cert.serial_number, not_after=cert.not_valid_after_utc)


class ReloadableTLS:
    """The live SSLContext handed to uvicorn, plus in-place reloads. Use from the event loop."""

    def __init__(self) -> None:
        self.context = new_server_context()
        # Until the real certificate arrives (from the CA Secret, say), a throwaway self-signed
        # one completes handshakes, so that liveness probes over HTTPS pass while /readyz
        # says not ready: a slow apiserver must not get the pod restarted.
        placeholder = issuing.issue_self_signed("mesh-webhooks-placeholder")
        with _pem_files(placeholder.cert_pem, placeholder.key_pem) as (cert_path, key_path):
            self.context.load_cert_chain(cert_path, key_path)
        self.current: ServingCert | None = None
        self.pair_digest = b""  # of the PEM pair last loaded, so file polls skip what we serve
        self._listeners: list[Callable[[ServingCert], None]] = []

    @property
    def loaded(self) -> bool:
        return self.current is not None

    def on_reload(self, listener: Callable[[ServingCert], None]) -> None:
        self._listeners.append(listener)

    def load_pem(self, cert_pem: bytes, key_pem: bytes) -> ServingCert:
        """Serve a new pair. Raises ValueError, and keeps the old pair, if the new one is bad."""
        with _pem_files(cert_pem, key_pem) as (cert_path, key_path):
            try:
                new_server_context().load_cert_chain(cert_path, key_path)
            except (ssl.SSLError, OSError) as error:
                raise ValueError(f"refusing certificate/key pair: {error}") from error
            self.context.load_cert_chain(cert_path, key_path)
        self.current = describe(cert_pem)
        self.pair_digest = pair_digest(cert_pem, key_pem)
        for listener in self._listeners:
            listener(self.current)
        logger.info(
            "serving certificate loaded",
            extra={"serial": f"{self.current.serial:x}", "not_after": str(self.current.not_after)},
        )
        return self.current

    def load_files(self, cert_path: Path, key_path: Path) -> ServingCert:
        return self.load_pem(cert_path.read_bytes(), key_path.read_bytes())

    def uvicorn_factory(self) -> Callable[..., ssl.SSLContext]:
        """For `uvicorn.Config(ssl_context_factory=...)`: uvicorn listens with our live context."""
        return lambda _config, _default: self.context


def _read_pair(cert_path: Path, key_path: Path) -> tuple[bytes, bytes]:
    return cert_path.read_bytes(), key_path.read_bytes()


async def watch_files(
    tls: ReloadableTLS, cert_path: Path, key_path: Path, interval: float = 2.0
) -> None:
    """Reload the pair whenever the files' contents change (kubelet swaps Secret volumes
    atomically through a symlink, so content hashes are the reliable signal, not mtimes).
    A torn or mismatched pair is logged and skipped; the old one keeps serving."""
    last_seen = tls.pair_digest
    while True:
        try:
            cert_pem, key_pem = _read_pair(cert_path, key_path)
        except OSError as error:
            logger.warning("cannot read certificate files", extra={"error": str(error)})
        else:
            digest = pair_digest(cert_pem, key_pem)
            if digest != last_seen:
                last_seen = digest
                try:
                    tls.load_pem(cert_pem, key_pem)
                except ValueError as error:
                    logger.error(
                        "new certificate files refused, still serving the previous pair",
                        extra={"error": str(error), "cert": str(cert_path)},
                    )
        await asyncio.sleep(interval)
