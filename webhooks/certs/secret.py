"""The release's CA in a Secret: created by the first replica, adopted by the others, renewed
with the same key and subject, all through create-if-absent and resourceVersion compare-and-swap.
"""

import datetime
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography import x509

from webhooks import kube
from webhooks.certs import issuing, metrics

logger = logging.getLogger(__name__)

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGER = "mesh-webhooks"
# Lets users switch to cert-manager's cainjector (`inject-ca-from-secret`) without a new Secret.
ALLOW_INJECTION_ANNOTATION = "cert-manager.io/allow-direct-injection"
RENEW_BELOW = 0.2  # of the CA's life remaining
ATTEMPTS = 5


class UnusableCASecret(Exception):
    """The Secret exists but cannot be used, and we may not overwrite it."""


@dataclass(frozen=True)
class StoredCA:
    pair: issuing.KeyPair
    resource_version: str


def parse_ca(data: Mapping[str, bytes]) -> issuing.KeyPair:
    """The CA in a Secret's data, or ValueError saying exactly what is wrong with it."""
    missing = [key for key in ("tls.crt", "tls.key", "ca.crt") if not data.get(key)]
    if missing:
        raise ValueError(f"missing or empty keys: {', '.join(missing)}")
    try:
        pair = issuing.load_key_pair(data["tls.crt"], data["tls.key"])
    except (ValueError, TypeError) as error:
        raise ValueError(f"tls.crt/tls.key are not a usable ECDSA pair: {error}") from None
    try:
        constraints = pair.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise ValueError("tls.crt is not a CA certificate")
    if data["ca.crt"].strip() != pair.cert_pem.strip():
        raise ValueError("ca.crt differs from tls.crt")
    return pair


def needs_renewal(cert: x509.Certificate, now: datetime.datetime) -> bool:
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    return cert.not_valid_after_utc - now < life * RENEW_BELOW


def secret_body(name: str, pair: issuing.KeyPair, previous: kube.Object | None) -> kube.Object:
    """The Secret holding `pair`; an update of `previous` keeps its type and resourceVersion."""
    metadata: kube.Object = {
        "name": name,
        "labels": {MANAGED_BY_LABEL: MANAGER},
        "annotations": {ALLOW_INJECTION_ANNOTATION: "true"},
    }
    if previous is not None:
        old = previous.get("metadata", {})
        metadata["labels"] = {**(old.get("labels") or {}), MANAGED_BY_LABEL: MANAGER}
        metadata["annotations"] = {**(old.get("annotations") or {}), **metadata["annotations"]}
        metadata["resourceVersion"] = old["resourceVersion"]
    data = {"tls.crt": pair.cert_pem, "tls.key": pair.key_pem, "ca.crt": pair.cert_pem}
    secret_type = previous.get("type", "Opaque") if previous else "kubernetes.io/tls"
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": secret_type,
        "data": kube.encode_data(data),
    }


class CAStore:
    """This replica's view of the CA Secret. `sync` is blocking; call it from a thread."""

    def __init__(
        self,
        client: kube.Kube,
        namespace: str,
        name: str,
        clock: Callable[[], datetime.datetime] = issuing.utc_now,
    ) -> None:
        self.client, self.namespace, self.name, self.clock = client, namespace, name, clock
        self.current: StoredCA | None = None
        self._lock = threading.Lock()  # the periodic check and caBundle refreshes may overlap

    @property
    def where(self) -> str:
        return f"{self.namespace}/{self.name}"

    def sync(self) -> issuing.KeyPair:
        """Read the Secret and make it hold a valid CA: create, adopt, repair or renew it.

        Raises UnusableCASecret or kube.KubeError; `current` is then left as it was."""
        with self._lock:
            return self._sync()

    def _sync(self) -> issuing.KeyPair:
        for _ in range(ATTEMPTS):
            secret = self.client.read_secret(self.namespace, self.name)
            try:
                stored = self._create() if secret is None else self._settle(secret)
            except (kube.AlreadyExists, kube.Conflict) as race:
                logger.info(
                    "another replica wrote the CA Secret first; re-reading it",
                    extra={"secret": self.where, "detail": race.message},
                )
                continue
            return self._adopt(*stored)
        raise kube.KubeError(409, "Conflict", f"CA Secret {self.where} kept changing under us")

    def _create(self) -> tuple[StoredCA, str]:
        pair = issuing.create_ca(f"{self.name}.{self.namespace}", now=self.clock())
        created = self.client.create_secret(self.namespace, secret_body(self.name, pair, None))
        logger.info("created the CA Secret", extra={"secret": self.where})
        return StoredCA(pair, created["metadata"]["resourceVersion"]), "created"

    def _settle(self, secret: kube.Object) -> tuple[StoredCA, str]:
        try:
            pair = parse_ca(kube.decode_data(secret))
        except ValueError as bad:
            return self._replace_invalid(secret, str(bad))
        if needs_renewal(pair.cert, self.clock()):
            return self._renew(secret, pair)
        return StoredCA(pair, secret["metadata"]["resourceVersion"]), "adopted"

    def _replace_invalid(self, secret: kube.Object, problem: str) -> tuple[StoredCA, str]:
        labels = secret.get("metadata", {}).get("labels") or {}
        if labels.get(MANAGED_BY_LABEL) != MANAGER:
            raise UnusableCASecret(
                f"CA Secret {self.where} does not hold a usable CA ({problem}) and is not labelled"
                f" {MANAGED_BY_LABEL}={MANAGER}, so it is left untouched: delete it to let"
                " mesh-webhooks create a new CA, or put a valid CA in it"
            )
        logger.error(
            "CA Secret holds no usable CA; replacing it with a new CA",
            extra={"secret": self.where, "problem": problem},
        )
        pair = issuing.create_ca(f"{self.name}.{self.namespace}", now=self.clock())
        replaced = self.client.replace_secret(self.namespace, secret_body(self.name, pair, secret))
        return StoredCA(pair, replaced["metadata"]["resourceVersion"]), "replaced_invalid"

    def _renew(self, secret: kube.Object, old: issuing.KeyPair) -> tuple[StoredCA, str]:
        now = self.clock()
        pair = issuing.create_ca(old.cert.subject, key=old.key, now=now)
        logger.warning(
            "renewing the CA with the same key and subject",
            extra={
                "secret": self.where,
                "old_not_after": str(old.cert.not_valid_after_utc),
                "new_not_after": str(pair.cert.not_valid_after_utc),
            },
        )
        replaced = self.client.replace_secret(self.namespace, secret_body(self.name, pair, secret))
        return StoredCA(pair, replaced["metadata"]["resourceVersion"]), "renewed"

    def _adopt(self, stored: StoredCA, reason: str) -> issuing.KeyPair:
        previous = self.current
        self.current = stored
        if previous is None or previous.pair.cert != stored.pair.cert:
            metrics.CA_CHANGES.labels(reason).inc()
            metrics.CA_NOT_AFTER.set(stored.pair.cert.not_valid_after_utc.timestamp())
            logger.info(
                "CA in use",
                extra={
                    "secret": self.where,
                    "how": reason,
                    "serial": f"{stored.pair.cert.serial_number:x}",
                    "not_after": str(stored.pair.cert.not_valid_after_utc),
                },
            )
        return stored.pair
