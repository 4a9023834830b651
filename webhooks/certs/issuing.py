"""Issue the CA and serving certificates (ECDSA P-256) and move them in and out of PEM."""

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = datetime.timedelta(days=3650)
SERVING_VALIDITY = datetime.timedelta(days=30)
BACKDATE = datetime.timedelta(minutes=5)  # tolerates clock skew between us and the apiservers


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def utc_now() -> datetime.datetime:
    """The wall clock, timezone-aware: the default clock of every certificate decision."""
    return datetime.datetime.now(datetime.UTC)


MAX_COMMON_NAME = 64  # RFC 5280's ub-common-name


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def create_ca(
    subject: str | x509.Name,
    key: ec.EllipticCurvePrivateKey | None = None,
    validity: datetime.timedelta = CA_VALIDITY,
    now: datetime.datetime | None = None,
) -> KeyPair:
    """A self-signed CA named `subject` (a common name or a whole Name). Renewing with the old
    key and the old subject keeps old and new chains both verifying. A common name is cut to
    X.509's 64 characters (e.g. `<secret>.<namespace>` with a long namespace): chains are
    matched by key identifiers, and the name is only for people."""
    key = key or new_key()
    start = (now or utc_now()) - BACKDATE
    name = (
        subject
        if isinstance(subject, x509.Name)
        else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject[:MAX_COMMON_NAME])])
    )
    public_key_id = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(public_key_id, critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(cert, key)


def _subject_alternative_names(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for host in hosts:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            entries.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(entries)


def issue_serving_cert(
    ca: KeyPair,
    hosts: Sequence[str],
    validity: datetime.timedelta = SERVING_VALIDITY,
    now: datetime.datetime | None = None,
) -> KeyPair:
    """A server certificate for `hosts` (DNS names or IPs), never outliving its CA."""
    if not hosts:
        raise ValueError("a serving certificate needs at least one host name")
    key = new_key()
    now = now or utc_now()
    start = now - BACKDATE  # the backdate is skew tolerance: the validity still counts from now
    end = min(now + validity, ca.cert.not_valid_after_utc)
    ca_key_id = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(_subject_alternative_names(hosts), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    return KeyPair(cert, key)


def issue_self_signed(host: str) -> KeyPair:
    """A certificate that signs itself, for a placeholder nobody is meant to trust."""
    return issue_serving_cert(create_ca(host), [host])


def write_pem(path: Path, data: bytes, *, private: bool) -> None:
    """Write a PEM file; a private key is created 0600 and is never readable by others."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600 if private else 0o644)  # an existing file keeps its mode on open


def load_key_pair(cert_pem: bytes, key_pem: bytes) -> KeyPair:
    """Parse a PEM pair, refusing keys that are not ECDSA or do not match the certificate."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"expected an ECDSA private key, got {type(key).__name__}")
    if key.public_key() != cert.public_key():
        raise ValueError("the private key does not match the certificate")
    return KeyPair(cert, key)


def issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """Whether `ca` signed `cert`: a wrong issuer name, key type or signature all say no."""
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
