"""The serving certificate each replica signs for itself, in memory, renewed with a third of
its life left. The check runs against the wall clock every minute, not as one long timer: a
monotonic sleep does not count time a suspended VM spent asleep.
"""

import asyncio
import datetime
import logging
from collections.abc import Callable, Sequence

from webhooks.certs import issuing, metrics, retry
from webhooks.server.tls import ReloadableTLS

logger = logging.getLogger(__name__)

RENEW_WITH_LEFT = 1 / 3
CHECK_SECONDS = 60.0


def service_hosts(service: str, namespace: str, extra: Sequence[str] = ()) -> list[str]:
    """The names the apiserver may use for the Service (`<svc>.<ns>.svc` is the one it does)."""
    base = [service, f"{service}.{namespace}", f"{service}.{namespace}.svc"]
    return [*base, f"{service}.{namespace}.svc.cluster.local", *extra]


class ServingCertRotator:
    """Signs and loads the serving pair. Call its methods on the event-loop thread only."""

    def __init__(
        self,
        tls: ReloadableTLS,
        hosts: Sequence[str],
        validity: datetime.timedelta = issuing.SERVING_VALIDITY,
        clock: Callable[[], datetime.datetime] = issuing.utc_now,
    ) -> None:
        self.tls, self.hosts, self.validity, self.clock = tls, list(hosts), validity, clock
        self.ca: issuing.KeyPair | None = None
        self.renew_at: datetime.datetime | None = None

    def use_ca(self, ca: issuing.KeyPair) -> None:
        """Sign with `ca` from now on; re-sign at once if it is a different certificate."""
        if self.ca is not None and self.ca.cert == ca.cert:
            return
        self._issue(ca, "initial" if self.ca is None else "ca_changed")

    def check(self) -> bool:
        """Renew if a third or less of the current certificate's life is left."""
        if self.ca is None or self.renew_at is None or self.clock() < self.renew_at:
            return False
        self._issue(self.ca, "expiring")
        return True

    def _issue(self, ca: issuing.KeyPair, reason: str) -> None:
        now = self.clock()
        pair = issuing.issue_serving_cert(ca, self.hosts, self.validity, now)
        self.tls.load_pem(pair.cert_pem, pair.key_pem)
        self.ca = ca  # only once loaded: a failed load is retried by the next use_ca
        # Life counts from issuance: the 5-minute backdate is skew tolerance, not lifetime.
        self.renew_at = now + (pair.cert.not_valid_after_utc - now) * (1 - RENEW_WITH_LEFT)
        metrics.SERVING_ROTATIONS.labels(reason).inc()
        logger.info(
            "signed a new serving certificate",
            extra={"reason": reason, "renew_at": str(self.renew_at), "hosts": self.hosts},
        )


async def keep_fresh(rotator: ServingCertRotator, interval: float = CHECK_SECONDS) -> None:
    """Check every `interval`; after a failure retry sooner (backoff up to `interval`), forever."""
    failures = 0
    while True:
        await asyncio.sleep(
            min(interval, retry.backoff(failures, first=1.0)) if failures else interval
        )
        try:
            rotator.check()
            failures = 0
        except Exception as error:  # this loop must outlive any single failure
            failures += 1
            logger.error(
                "could not renew the serving certificate; still serving the current one",
                extra={"error": str(error), "failures": failures},
                # a pair the TLS context refused (ValueError) is expected; anything else is a bug
                exc_info=not isinstance(error, ValueError),
            )
