"""Development certificates for `serve --local`: a CA and a loopback serving pair on disk."""

import datetime
import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from webhooks.certs import issuing

logger = logging.getLogger(__name__)

LOCAL_HOSTS = ("localhost", "127.0.0.1")
RENEW_BEFORE = datetime.timedelta(days=10)


@dataclass(frozen=True)
class LocalCertPaths:
    ca: Path
    cert: Path
    key: Path


def _usable(paths: LocalCertPaths, now: datetime.datetime) -> bool:
    try:
        ca = x509.load_pem_x509_certificate(paths.ca.read_bytes())
        pair = issuing.load_key_pair(paths.cert.read_bytes(), paths.key.read_bytes())
    except (OSError, ValueError, TypeError) as error:
        logger.info("local certificates missing or unusable", extra={"reason": str(error)})
        return False
    if not issuing.issued_by(pair.cert, ca):
        logger.info(
            "local certificates unusable", extra={"reason": f"{paths.ca} did not sign them"}
        )
        return False
    return pair.cert.not_valid_after_utc - now > RENEW_BEFORE


def ensure(directory: Path) -> LocalCertPaths:
    """Reuse the certificates in `directory` if they are valid, else write a fresh set."""
    paths = LocalCertPaths(directory / "ca.crt", directory / "tls.crt", directory / "tls.key")
    now = issuing.utc_now()
    if _usable(paths, now):
        return paths
    directory.mkdir(parents=True, exist_ok=True)
    ca = issuing.create_ca("mesh-webhooks local CA")
    serving = issuing.issue_serving_cert(ca, LOCAL_HOSTS)
    issuing.write_pem(paths.ca, ca.cert_pem, private=False)
    issuing.write_pem(paths.key, serving.key_pem, private=True)
    issuing.write_pem(paths.cert, serving.cert_pem, private=False)
    logger.info("wrote local certificates", extra={"directory": str(directory)})
    return paths
