"""Keep `webhooks[*].clientConfig.caBundle` of a webhook configuration equal to our CA.

Only that field (and, on the validating configuration once the self-test passed,
`failurePolicy`; in the file modes only that) is ever patched, through a JSON Patch whose `test`
ops pin each webhook's name, so a list reordered between our read and our write makes the patch
fail instead of misapply.
"""

import asyncio
import base64
import binascii
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from cryptography import x509

from webhooks import kube
from webhooks.certs import issuing, metrics, retry

logger = logging.getLogger(__name__)

POLL_SECONDS = 5.0


def bundle_certificates(webhook: kube.Object) -> list[x509.Certificate]:
    encoded = (webhook.get("clientConfig") or {}).get("caBundle") or ""
    try:
        return x509.load_pem_x509_certificates(base64.b64decode(encoded))
    except (ValueError, binascii.Error):
        return []


def trusts(configuration: kube.Object, ca: x509.Certificate) -> bool:
    """Whether every webhook's caBundle contains `ca`."""
    webhooks = configuration.get("webhooks") or []
    return all(ca in bundle_certificates(webhook) for webhook in webhooks)


def patch_operations(
    configuration: kube.Object, ca_pem: bytes | None, failure_policy: str | None
) -> list[kube.Object]:
    """The JSON Patch that makes every caBundle exactly `ca_pem` (None: leave the bundles alone)
    and every failurePolicy `failure_policy` (None: leave it alone)."""
    wanted = base64.b64encode(ca_pem).decode() if ca_pem is not None else None
    operations: list[kube.Object] = []
    for index, webhook in enumerate(configuration.get("webhooks") or []):
        at = f"/webhooks/{index}"
        changes = []
        if wanted is not None and (webhook.get("clientConfig") or {}).get("caBundle") != wanted:
            changes.append({"op": "add", "path": f"{at}/clientConfig/caBundle", "value": wanted})
        if failure_policy and webhook.get("failurePolicy") != failure_policy:
            changes.append({"op": "add", "path": f"{at}/failurePolicy", "value": failure_policy})
        if changes:
            operations += [{"op": "test", "path": f"{at}/name", "value": webhook["name"]}, *changes]
    return operations


async def apply_patch(
    client: kube.Kube, kind: kube.WebhookKind, name: str, operations: list[kube.Object]
) -> kube.Object:
    """Send one JSON Patch (in a thread), counted and logged with the fields it changed."""
    label = f"{kind}/{name}"
    try:
        patched = await asyncio.to_thread(
            client.patch_webhook_configuration, kind, name, operations
        )
    except kube.KubeError:
        metrics.CABUNDLE_PATCHES.labels(label, "failed").inc()
        raise
    metrics.CABUNDLE_PATCHES.labels(label, "patched").inc()
    changed = sorted({op["path"].rsplit("/", 1)[-1] for op in operations if op["op"] == "add"})
    logger.info("patched webhook configuration", extra={"configuration": label, "fields": changed})
    return patched


class Reconciler(Protocol):
    """What `keep_reconciled` drives."""

    wake: asyncio.Event

    @property
    def label(self) -> str: ...

    async def reconcile(self) -> None: ...


class BundleReconciler:
    """One webhook configuration, kept trusting the current CA. Runs on the event loop."""

    def __init__(
        self,
        client: kube.Kube,
        kind: kube.WebhookKind,
        name: str,
        current_ca: Callable[[], issuing.KeyPair | None],
        refresh_ca: Callable[[], Awaitable[issuing.KeyPair]],
        failure_policy: Callable[[], str | None] | None = None,
    ) -> None:
        self.client, self.kind, self.name = client, kind, name
        self.current_ca, self.refresh_ca = current_ca, refresh_ca
        self.failure_policy = failure_policy
        self.in_sync = False
        # Not found on the last read: nothing calls us through it, so nothing to distrust us.
        self.absent = False
        self.wake = asyncio.Event()

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"

    def _policy(self) -> str | None:
        return self.failure_policy() if self.failure_policy else None

    def _set_in_sync(self, value: bool) -> None:
        if value != self.in_sync:
            logger.info(
                "caBundle trust changed", extra={"configuration": self.label, "in_sync": value}
            )
        self.in_sync = value
        metrics.CABUNDLE_IN_SYNC.labels(self.label).set(1 if value else 0)

    async def reconcile(self) -> None:
        ca = self.current_ca()
        if ca is None:
            return self._set_in_sync(False)
        read = self.client.read_webhook_configuration
        configuration = await asyncio.to_thread(read, self.kind, self.name)
        self.absent = configuration is None
        if configuration is None:
            logger.warning("webhook configuration not found", extra={"configuration": self.label})
            return self._set_in_sync(False)
        operations = patch_operations(configuration, ca.cert_pem, self._policy())
        if not trusts(configuration, ca.cert):
            self._set_in_sync(False)  # until the patch lands; API errors leave it so
        if operations:
            # Desired state from a fresh read of the Secret, so a replica that has not yet
            # noticed a CA change never patches its stale CA back (flapping).
            ca = await self.refresh_ca()
            operations = patch_operations(configuration, ca.cert_pem, self._policy())
        if operations:
            configuration = await apply_patch(self.client, self.kind, self.name, operations)
        self._set_in_sync(trusts(configuration, ca.cert))


class PolicyReconciler:
    """File modes: cainjector or the user owns the caBundle; only failurePolicy is kept, once
    `failure_policy()` wants one (after the self-test). Nothing is read before that."""

    def __init__(
        self, client: kube.Kube, name: str, failure_policy: Callable[[], str | None]
    ) -> None:
        self.client, self.name, self.failure_policy = client, name, failure_policy
        self.wake = asyncio.Event()

    @property
    def label(self) -> str:
        return f"{kube.VALIDATING}/{self.name}"

    async def reconcile(self) -> None:
        policy = self.failure_policy()
        if policy is None:
            return
        read = self.client.read_webhook_configuration
        configuration = await asyncio.to_thread(read, kube.VALIDATING, self.name)
        if configuration is None:
            logger.warning("webhook configuration not found", extra={"configuration": self.label})
            return
        operations = patch_operations(configuration, None, policy)
        if operations:
            await apply_patch(self.client, kube.VALIDATING, self.name, operations)


async def keep_reconciled(reconciler: Reconciler, interval: float = POLL_SECONDS) -> None:
    """Reconcile every `interval` (GET polling works under name-scoped RBAC), at once when
    woken, and after failures with backoff, forever."""
    failures = 0
    while True:
        try:
            await reconciler.reconcile()
            failures, pause = 0, interval
        except Exception as error:  # this loop must outlive any single failure
            failures += 1
            pause = retry.backoff(failures)
            logger.warning(
                "caBundle reconcile failed, retrying",
                extra={"configuration": reconciler.label, "error": str(error), "retry_in_s": pause},
                # API errors are expected and said in one line; anything else is a bug
                exc_info=not isinstance(error, kube.KubeError),
            )
        await retry.sleep_or_wake(reconciler.wake, pause)
