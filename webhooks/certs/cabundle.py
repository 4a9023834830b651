"""Keep `webhooks[*].clientConfig.caBundle` of a webhook configuration equal to our CA.

Only that field (and, on the validating configuration once the self-test passed,
`failurePolicy`) is ever patched, through a JSON Patch whose `test` ops pin each webhook's name,
so a list reordered between our read and our write makes the patch fail instead of misapply.
"""

import asyncio
import base64
import binascii
import logging
from collections.abc import Awaitable, Callable

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
    configuration: kube.Object, ca_pem: bytes, failure_policy: str | None
) -> list[kube.Object]:
    """The JSON Patch that makes every caBundle exactly `ca_pem` (and the failurePolicy)."""
    wanted = base64.b64encode(ca_pem).decode()
    operations: list[kube.Object] = []
    for index, webhook in enumerate(configuration.get("webhooks") or []):
        at = f"/webhooks/{index}"
        changes = []
        if (webhook.get("clientConfig") or {}).get("caBundle") != wanted:
            changes.append({"op": "add", "path": f"{at}/clientConfig/caBundle", "value": wanted})
        if failure_policy and webhook.get("failurePolicy") != failure_policy:
            changes.append({"op": "add", "path": f"{at}/failurePolicy", "value": failure_policy})
        if changes:
            operations += [{"op": "test", "path": f"{at}/name", "value": webhook["name"]}, *changes]
    return operations


class BundleReconciler:
    """One webhook configuration, kept trusting the current CA. Runs on the event loop."""

    def __init__(
        self,
        client: kube.Kube,
        kind: kube.WebhookKind,
        name: str,
        current_ca: Callable[[], issuing.KeyPair | None],
        refresh_ca: Callable[[], Awaitable[issuing.KeyPair]],
        failure_policy: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.client, self.kind, self.name = client, kind, name
        self.current_ca, self.refresh_ca, self.failure_policy = (
            current_ca,
            refresh_ca,
            failure_policy,
        )
        self.in_sync = False
        self.wake = asyncio.Event()

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"

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
        if configuration is None:
            logger.warning("webhook configuration not found", extra={"configuration": self.label})
            return self._set_in_sync(False)
        operations = patch_operations(configuration, ca.cert_pem, self.failure_policy())
        if not trusts(configuration, ca.cert):
            self._set_in_sync(False)  # until the patch lands; API errors leave it so
        if operations:
            # Desired state from a fresh read of the Secret, so a replica that has not yet
            # noticed a CA change never patches its stale CA back (flapping).
            ca = await self.refresh_ca()
            operations = patch_operations(configuration, ca.cert_pem, self.failure_policy())
        if operations:
            configuration = await self._patch(operations)
        self._set_in_sync(trusts(configuration, ca.cert))

    async def _patch(self, operations: list[kube.Object]) -> kube.Object:
        patch = self.client.patch_webhook_configuration
        try:
            patched = await asyncio.to_thread(patch, self.kind, self.name, operations)
        except kube.KubeError:
            metrics.CABUNDLE_PATCHES.labels(self.label, "failed").inc()
            raise
        metrics.CABUNDLE_PATCHES.labels(self.label, "patched").inc()
        changed = sorted({op["path"].rsplit("/", 1)[-1] for op in operations if op["op"] == "add"})
        logger.info(
            "patched webhook configuration", extra={"configuration": self.label, "fields": changed}
        )
        return patched


async def keep_reconciled(reconciler: BundleReconciler, interval: float = POLL_SECONDS) -> None:
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
            )
        await retry.sleep_or_wake(reconciler.wake, pause)
