"""Throwaway PKI for the local control plane, on top of the webhook's own certificate issuing.

One CA signs the apiserver's serving certificate and the admin's client certificate (the
apiserver trusts it as --client-ca-file). Only the client certificate is built here: the
webhook never needs one, so `webhooks.certs.issuing` has no maker for it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from webhooks.certs.issuing import (
    BACKDATE,
    KeyPair,
    create_ca,
    issue_serving_cert,
    new_key,
    utc_now,
    write_pem,
)

__all__ = ["KeyPair", "create_ca", "issue_client_cert", "issue_serving_cert", "write"]

_CLIENT_VALIDITY = datetime.timedelta(days=1)  # long enough for any test session


def write(pair: KeyPair, directory: Path, name: str) -> tuple[Path, Path]:
    """Write `<name>.crt` and `<name>.key` into `directory`; return their paths."""
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    write_pem(cert_path, pair.cert_pem, private=False)
    write_pem(key_path, pair.key_pem, private=True)
    return cert_path, key_path


def issue_client_cert(ca: KeyPair, user: str, groups: Iterable[str] = ()) -> KeyPair:
    """A client certificate; the apiserver reads the user from CN and the groups from O."""
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, user)]
    attributes += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
    key = new_key()
    start = utc_now() - BACKDATE
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attributes))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _CLIENT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return KeyPair(cert, key)


def write_signing_key_pair(directory: Path, name: str) -> tuple[Path, Path]:
    """Write a bare key pair as `<name>.key` and `<name>.pub` (PEM); return their paths."""
    key = new_key()
    private_path, public_path = directory / f"{name}.key", directory / f"{name}.pub"
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_pem(private_path, private_pem, private=True)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, public_path
