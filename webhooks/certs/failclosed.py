"""cert-manager and external modes: the serving pair and the caBundle belong to someone else, so
the server only proves the apiserver reaches the validating webhook, then makes it fail closed.
"""

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webhooks import kube
from webhooks.certs import cabundle, metrics, selftest
from webhooks.mesh import DEFAULT_REVISION

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FailClosedSettings:
    namespace: str  # where the self-test's dry-run Gateway is created
    validating_config: str
    revision: str = DEFAULT_REVISION  # its istio.io/rev label
    kubeconfig: Path | None = None
    poll_seconds: float = cabundle.POLL_SECONDS


class FailClosed:
    """The self-test, then `failurePolicy: Fail` on every validating webhook, kept that way."""

    def __init__(
        self, settings: FailClosedSettings, client: kube.Kube, ready: Callable[[], bool]
    ) -> None:
        self.settings, self.client, self.ready = settings, client, ready
        self.passed = False
        self.reconciler = cabundle.PolicyReconciler(
            client, settings.validating_config, self._failure_policy
        )

    def _failure_policy(self) -> str | None:
        return "Fail" if self.passed else None

    def _passed(self) -> None:
        self.passed = True
        metrics.FAIL_CLOSED.set(1)
        self.reconciler.wake.set()

    def background(self) -> list[Coroutine[Any, Any, None]]:
        settings = self.settings
        test = selftest.keep_testing(
            self.client, settings.namespace, settings.revision, self.ready, self._passed
        )
        return [test, cabundle.keep_reconciled(self.reconciler, self.settings.poll_seconds)]
