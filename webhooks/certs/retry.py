"""Retry pacing for the certificate loops: exponential backoff and wake-able sleeps."""

import asyncio
import contextlib
import random

FIRST_DELAY = 0.1
MAX_DELAY = 30.0


def backoff(failures: int, first: float = FIRST_DELAY, ceiling: float = MAX_DELAY) -> float:
    """The pause after the n-th consecutive failure: doubling from `first`, capped at `ceiling`."""
    return float(min(ceiling, first * 2 ** max(0, failures - 1)))


def jittered(seconds: float, spread: float = 0.2) -> float:
    """Spread periodic work so replicas started together do not poll in lockstep."""
    return seconds * random.uniform(1 - spread, 1 + spread)


async def sleep_or_wake(wake: asyncio.Event, seconds: float) -> None:
    """Sleep up to `seconds`, returning early (and re-arming) if `wake` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wake.wait(), timeout=seconds)
    wake.clear()
