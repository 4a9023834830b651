"""A pod simulated in network namespaces: a pod netns and a peer netns joined by a veth pair.

Everything lives inside the two namespaces the simulation creates (10.233.x.0/24 on the veth);
the host's own interfaces and iptables are never touched. `pod_simulation()` always removes them.
"""

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from webhooks import mesh

ROOT = Path(__file__).resolve().parents[2]


def require_root_and_tools(
    tools: Sequence[str] = ("ip", "iptables-restore", "setpriv"),
    what: str = "the pod simulation needs root (network namespaces, iptables, setuid 1337)",
) -> None:
    """Skip with the reason, or fail under CI=true where a skip would hide a missing test."""
    reason = None
    if os.geteuid() != 0:
        reason = what
    else:
        missing = [t for t in tools if shutil.which(t) is None]
        if missing:
            reason = f"missing {', '.join(missing)}: run tests/dataplane/install-deps.sh"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: this test must run)")
        pytest.skip(reason)


def run(
    command: Sequence[str], check: bool = True, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=check, cwd=cwd)


@dataclass
class PodSim:
    pod_ns: str
    peer_ns: str
    pod_ip: str
    peer_ip: str
    workdir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def in_pod(self, *command: str) -> list[str]:
        return ["ip", "netns", "exec", self.pod_ns, *command]

    def in_peer(self, *command: str) -> list[str]:
        return ["ip", "netns", "exec", self.peer_ns, *command]

    def as_proxy(self, *command: str) -> list[str]:
        uid = str(mesh.PROXY_UID)
        return self.in_pod(
            "setpriv", f"--reuid={uid}", f"--regid={mesh.PROXY_GID}", "--clear-groups", *command
        )

    def start(
        self, command: Sequence[str], log: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        out = (self.workdir / log).open("wb")
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
            env={**os.environ, **(env or {})}, start_new_session=True,
        )  # fmt: skip
        out.close()
        self.processes.append(process)
        return process

    def peer_python(self, code: str, *args: str) -> str:
        """Run a Python snippet in the peer netns (the kubelet's or another pod's side)."""
        done = run(self.in_peer(sys.executable, "-c", code, *args), check=False)
        if done.returncode != 0:
            raise ConnectionError(f"peer command failed: {done.stderr}")
        return done.stdout


def _setup(sim: PodSim, veth: str) -> None:
    run(["ip", "netns", "add", sim.pod_ns])
    run(["ip", "netns", "add", sim.peer_ns])
    # Created inside the pod namespace, its peer end moved straight into the peer namespace.
    run(["ip", "-n", sim.pod_ns, "link", "add", f"{veth}a", "type", "veth",
         "peer", "name", f"{veth}b", "netns", sim.peer_ns])  # fmt: skip
    for ns, dev, ip in (
        (sim.pod_ns, f"{veth}a", sim.pod_ip),
        (sim.peer_ns, f"{veth}b", sim.peer_ip),
    ):
        run(["ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev])
        run(["ip", "-n", ns, "link", "set", dev, "up"])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])


@contextmanager
def pod_simulation() -> Iterator[PodSim]:
    tag = f"{os.getpid() % 10000}{random.randrange(1000):03d}"
    subnet = random.randrange(1, 250)
    workdir = Path(tempfile.mkdtemp(prefix="mw-podsim-"))
    workdir.chmod(0o755)  # uid 1337 reads and writes its own subdirectory
    sim = PodSim(
        pod_ns=f"mw-pod-{tag}",
        peer_ns=f"mw-peer-{tag}",
        pod_ip=f"10.233.{subnet}.2",
        peer_ip=f"10.233.{subnet}.1",
        workdir=workdir,
    )
    try:
        _setup(sim, f"mw{tag}")
        yield sim
    finally:
        for process in sim.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        for ns in (sim.pod_ns, sim.peer_ns):
            run(["ip", "netns", "del", ns], check=False)  # takes the veth pair with it
        shutil.rmtree(workdir, ignore_errors=True)
        left = run(["ip", "netns", "list"]).stdout
        assert sim.pod_ns not in left, "pod netns was not removed"
        assert sim.peer_ns not in left, "peer netns was not removed"
