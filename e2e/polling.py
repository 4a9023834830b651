"""Waiting for eventually-consistent state, e.g. a webhook configuration taking effect."""

from __future__ import annotations

import time
from collections.abc import Callable

_INTERVAL_SECONDS = 0.2


def wait_for(condition: Callable[[], bool], *, timeout: float, description: str) -> None:
    """Call `condition` until it returns True; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {description}")
        time.sleep(_INTERVAL_SECONDS)
