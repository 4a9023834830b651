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
from webhooks.server.tls import ReloadableTLS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterSettings:
    namespace: str
    service: str
    ca_secret: str
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
                self._failure_policy if kind == kube.VALIDATING else _none,
            )
            for kind, name in (
                (kube.MUTATING, settings.mutating_config),
                (kube.VALIDATING, settings.validating_config),
            )
            if name
        ]

    def ready(self) -> bool:
        """Serving a certificate whose CA every configured webhook trusts."""
        return self.tls.loaded and all(reconciler.in_sync for reconciler in self.reconcilers)

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
            jobs.append(self._self_test())
        return jobs

    async def _keep_ca(self) -> None:
        failures = 0
        while True:
            try:
                await self.refresh_ca()
                failures, pause = 0, retry.jittered(self.settings.ca_check_seconds)
            except (kube.KubeError, secret.UnusableCASecret) as error:
                failures += 1
                pause = retry.backoff(failures, first=0.5)
                logger.error(
                    "no usable CA",
                    extra={"secret": self.store.where, "error": str(error), "retry_in_s": pause},
                )
            await asyncio.sleep(pause)

    async def _self_test(self) -> None:
        """Once ready, dry-run the always-reject Gateway until it is denied; then fail closed."""
        failures = 0
        while True:
            if self.ready():
                verdict = await asyncio.to_thread(
                    selftest.run, self.client, self.settings.namespace
                )
                metrics.SELF_TEST_RUNS.labels("passed" if verdict.passed else "failed").inc()
                logger.info("self-test", extra={"passed": verdict.passed, "detail": verdict.detail})
                if verdict.passed:
                    self.fail_closed = True
                    metrics.FAIL_CLOSED.set(1)
                    for reconciler in self.reconcilers:
                        reconciler.wake.set()
                    return
                failures += 1
            await asyncio.sleep(retry.backoff(failures + 1, first=0.5, ceiling=60.0))


def _none() -> str | None:
    return None
