"""Envoy's command line from the agent's settings, and the agent's exit status when Envoy dies."""

import signal

import pytest

from webhooks.proxy.agent import exit_status
from webhooks.proxy.envoy import EnvoyOptions


@pytest.mark.parametrize(
    ("seconds", "flag"), [(0.0, "0"), (0.2, "1"), (1.0, "1"), (2.5, "3"), (45.0, "45")]
)
def test_drain_time_is_whole_seconds_rounded_up_and_zero_stays_zero(
    seconds: float, flag: str
) -> None:
    """Envoy takes whole seconds (0 accepted: no drain); a fractional drain is not cut short."""
    command = EnvoyOptions("envoy", "/c.json", drain_seconds=seconds).command()
    assert command[command.index("--drain-time-s") + 1] == flag


@pytest.mark.parametrize(
    ("envoy_code", "status"), [(0, 1), (1, 1), (2, 2), (-signal.SIGKILL, 137), (-15, 143)]
)
def test_exit_status_is_never_zero_and_signals_map_to_128_plus_n(
    envoy_code: int, status: int
) -> None:
    assert exit_status(envoy_code) == status
