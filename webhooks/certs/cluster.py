"""Self-managed TLS in the cluster: the CA Secret, this replica's serving certificate, the
caBundles of both webhook configurations and the fail-closed self-test, as asyncio tasks that
run next to uvicorn. Kubernetes calls are blocking and go to threads; the TLS context is only
touched here, on the event-loop thread.
"""

import asyncio
import datetime
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webhooks import kube
from webhooks.certs import cabundle, issuing, metrics, retry, rotation, secret, selftest
from webhooks.mesh import DEFAULT_REVISION
from webhooks.server.tls import ReloadableTLS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterSettings:
    namespace: str
    service: str
    ca_secret: str
    revision: str = DEFAULT_REVISION  # istio.io/rev of the self-test's Gateway
    mutating_config: str | None = None
    validating_config: str | None = None
    fail_closed: bool = True
    kubeconfig: Path | None = None
    extra_sans: tuple[str, ...] = ()
    serving_validity: datetime.timedelta = issuing.SERVING_VALIDITY
    ca_check_seconds: float = 60.0
    serving_check_seconds: float = rotation.CHECK_SECONDS
    cabundle_poll_seconds: float = cabundle.POLL_SECONDS


class ClusterCerts:
    """Everything `serve` needs in self mode: `ready()` for /readyz, `background()` tasks."""

    def __init__(self, settings: ClusterSettings, tls: ReloadableTLS, client: kube.Kube) -> None:
        self.settings, self.tls, self.client = settings, tls, client
        self.store = secret.CAStore(client, settings.namespace, settings.ca_secret)
        hosts = rotation.service_hosts(settings.service, settings.namespace, settings.extra_sans)
        self.rotator = rotation.ServingCertRotator(tls, hosts, settings.serving_validity)
        self.fail_closed = False
        self.reconcilers = [
            cabundle.BundleReconciler(
                client,
                kind,
                name,
                self.current_ca,
                self.refresh_ca,
                self._failure_policy if kind == kube.VALIDATING else None,
            )
            for kind, name in (
                (kube.MUTATING, settings.mutating_config),
                (kube.VALIDATING, settings.validating_config),
            )
            if name
        ]

    def ready(self) -> bool:
        """Serving a certificate whose CA every configured webhook that exists trusts. A deleted
        configuration (say, the validating one, removed in an incident) must not take the
        replicas out of the Service, or the other webhook would go down with it."""
        return self.tls.loaded and all(r.in_sync or r.absent for r in self.reconcilers)

    def current_ca(self) -> issuing.KeyPair | None:
        return self.store.current.pair if self.store.current else None

    async def refresh_ca(self) -> issuing.KeyPair:
        """Re-read the Secret (creating, adopting or renewing the CA) and use what it holds."""
        before = self.rotator.ca
        pair = await asyncio.to_thread(self.store.sync)
        self.rotator.use_ca(pair)
        if before is None or before.cert != pair.cert:
            for reconciler in self.reconcilers:
                reconciler.wake.set()
        return pair

    def _failure_policy(self) -> str | None:
        return "Fail" if self.fail_closed else None

    def background(self) -> list[Coroutine[Any, Any, None]]:
        jobs = [
            self._keep_ca(),
            rotation.keep_fresh(self.rotator, self.settings.serving_check_seconds),
        ]
        jobs += [
            cabundle.keep_reconciled(r, self.settings.cabundle_poll_seconds)
            for r in self.reconcilers
        ]
        if self.settings.validating_config and self.settings.fail_closed:
            namespace, revision = self.settings.namespace, self.settings.revision
            test = selftest.keep_testing(self.client, namespace, revision, self.ready, self._passed)
            jobs.append(test)
        return jobs

    async def _keep_ca(self) -> None:
        failures = 0
        while True:
            try:
                await self.refresh_ca()
                failures, pause = 0, retry.jittered(self.settings.ca_check_seconds)
            except Exception as error:  # this loop must outlive any single failure
                failures += 1
                pause = retry.backoff(failures, first=0.5)
                logger.error(
                    "no usable CA",
                    extra={"secret": self.store.where, "error": str(error), "retry_in_s": pause},
                    # API errors and a bad Secret are expected and said in one line; not others
                    exc_info=not isinstance(error, (kube.KubeError, secret.UnusableCASecret)),
                )
            await asyncio.sleep(pause)

    def _passed(self) -> None:
        """The self-test proved the webhook path: want failurePolicy Fail from now on."""
        self.fail_closed = True
        metrics.FAIL_CLOSED.set(1)
        for reconciler in self.reconcilers:
            reconciler.wake.set()
