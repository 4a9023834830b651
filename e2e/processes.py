"""Child processes that cannot outlive the test session.

Each process gets its own process group (so stopping it also stops anything it spawned), is
stopped by its fixture's teardown, is killed at interpreter exit if a teardown never ran, and
on Linux is killed by the kernel if the Python process dies without running any of that.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_STOP_GRACE_SECONDS = 5.0
_LOG_TAIL_LINES = 40
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

# Proxies would capture the apiserver's calls to webhooks on 127.0.0.1, and these others
# would point the binaries at configuration outside the test's control.
_INHERITED_VARIABLES_TO_DROP = frozenset(
    {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "kubeconfig"}
)
_INHERITED_PREFIXES_TO_DROP = ("ETCD_", "ETCDCTL_")


class ProcessStartError(RuntimeError):
    """A control-plane process died or never became ready; the message carries its log."""


@dataclass(eq=False)
class ManagedProcess:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log written)"
        return "\n".join(text.splitlines()[-lines:])

    def failure(self, problem: str) -> ProcessStartError:
        """An error saying what went wrong, with the end of the process's log to say why."""
        status = "running" if self.running else f"exit code {self.popen.returncode}"
        return ProcessStartError(
            f"{self.name} {problem} ({status}). Last lines of {self.log_path}:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Ask the whole process group to terminate, then kill it if it takes too long."""
        _signal_group(self, signal.SIGTERM)
        try:
            self.popen.wait(_STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(self, signal.SIGKILL)
            self.popen.wait()
        _signal_group(self, signal.SIGKILL)  # stragglers the leader left in its group
        _alive.discard(self)


_alive: set[ManagedProcess] = set()
# Resolved now: symbol lookup in the forked child of a multi-threaded process can deadlock.
_prctl = ctypes.CDLL(None).prctl if sys.platform == "linux" else None


def start_process(
    name: str, argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None
) -> ManagedProcess:
    """Start `argv` in a new process group with stdout and stderr going to `log_path`."""
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else child_environment(),
            start_new_session=True,
            preexec_fn=_die_with_parent if _prctl is not None else None,
        )
    process = ManagedProcess(name, popen, log_path)
    _alive.add(process)
    return process


def child_environment() -> dict[str, str]:
    """This process's environment without what could redirect or reconfigure the children."""
    return {
        key: value
        for key, value in os.environ.items()
        if key.lower() not in _INHERITED_VARIABLES_TO_DROP
        and not key.startswith(_INHERITED_PREFIXES_TO_DROP)
    }


def free_loopback_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now (callers retry if it gets taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _signal_group(process: ManagedProcess, signum: signal.Signals) -> None:
    # start_new_session made the child the leader of a group whose id is its pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.popen.pid, signum)


def _die_with_parent() -> None:
    """Runs in the child before exec: have the kernel SIGKILL it when the test process dies."""
    assert _prctl is not None
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_alive):
        _signal_group(process, signal.SIGKILL)
        process.popen.wait()
    _alive.clear()
