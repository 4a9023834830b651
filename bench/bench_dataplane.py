"""Sidecar cost on the pod simulation: 1 KB responses at a fixed rate, direct vs through Envoy.

Needs root (network namespaces, iptables) and reports numbers; it is not a test. Phase 1 sends
to the app with no capture rules; phase 2 applies the injector's rules, starts the agent (and
Envoy as uid 1337) and sends the same load. Envoy's CPU (user/system, per thread) comes from
/proc over the load window; memory is RSS split into anon/file/shmem plus PSS (smaps_rollup).
The upstream counters, read after the window, show whether connections to the app are reused.

    sudo .venv/bin/python bench/bench_dataplane.py [--rate 1000] [--seconds 20]
        [--concurrency 2] [--pin 1] [--bootstrap variant.yaml]

--pin puts the app and the load generator on one CPU (taskset) so they do not preempt Envoy;
--bootstrap runs a variant through the agent's override directory, for A/B comparisons.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BODY = b"x" * 1024
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1024\r\n\r\n" + BODY
APP_PORT = 8080


async def serve(port: int) -> None:
    """The app: answers every request with 1 KB over keep-alive connections."""

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(RESPONSE)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(on_connection, "0.0.0.0", port)
    await server.serve_forever()


async def load(host: str, port: int, rate: float, seconds: float, connections: int) -> list[float]:
    """Open-loop: request i is due at start + i/rate; latency counts from when it was due."""
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    next_index = iter(range(total))
    latencies: list[float] = []
    request = f"GET /bench HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        for index in next_index:
            due = start + index / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            writer.write(request)
            await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(len(BODY))
            latencies.append(time.perf_counter() - due)
        writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return latencies


def percentiles(latencies: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(latencies, n=100)
    return {"p50_ms": cuts[49] * 1000, "p99_ms": cuts[98] * 1000, "count": len(latencies)}


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of all of the process's threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds per thread name (workers are "wrk:worker_N"), to see where the time goes."""
    seconds: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name, fields = (task / "stat").read_text()[:-1].split("(", 1)[1].rsplit(")", 1)
        except OSError:
            continue
        values = fields.split()
        total = (int(values[11]) + int(values[12])) / os.sysconf("SC_CLK_TCK")
        seconds[name] = seconds.get(name, 0.0) + total
    return seconds


def _kb_fields(path: Path) -> dict[str, float]:
    fields = (line.split(":", 1) for line in path.read_text().splitlines() if ":" in line)
    return {k: int(v.split()[0]) / 1024 for k, v in fields if v.strip().endswith("kB")}


def memory_mb(pid: int) -> dict[str, float]:
    """RSS and its parts (anon, file-backed, shmem), the peak, and PSS from smaps_rollup."""
    status = _kb_fields(Path(f"/proc/{pid}/status"))
    rollup = _kb_fields(Path(f"/proc/{pid}/smaps_rollup"))
    memory = {k: status[k] for k in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM")}
    memory.update({k: rollup[k] for k in ("Pss", "Pss_Anon", "Pss_File")})
    return memory


def envoy_pid(agent_pid: int) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == agent_pid:
                return int(entry.name)
    raise RuntimeError("envoy is not running under the agent")


def pinned(args: argparse.Namespace, command: list[str]) -> list[str]:
    """The load generator and the app on --pin's CPU, so they do not preempt Envoy's workers."""
    return ["taskset", "-c", args.pin, *command] if args.pin else command


def client_phase(sim: object, args: argparse.Namespace) -> dict[str, float]:
    from tests.dataplane.podsim import PodSim, run

    assert isinstance(sim, PodSim)
    command = sim.in_peer(
        *pinned(args, [sys.executable, __file__, "--client", sim.pod_ip]),
        "--rate", str(args.rate), "--seconds", str(args.seconds),
    )  # fmt: skip
    done = run(command)
    return dict(json.loads(done.stdout))


def main_bench(args: argparse.Namespace) -> None:
    from tests.dataplane.podsim import pod_simulation, require_root_and_tools, run
    from tests.dataplane.sidecar import envoy_binary, wait_for
    from tests.dataplane.test_podsim import get, injected
    from webhooks import mesh

    require_root_and_tools()
    init_args, proxy_env = injected()
    with pod_simulation() as sim:
        if args.bootstrap:  # a variant to compare, through the agent's override directory
            (sim.workdir / "bootstrap").mkdir(mode=0o755)
            override = sim.workdir / "bootstrap" / "bootstrap.yaml"
            override.write_bytes(args.bootstrap.read_bytes())
            override.chmod(0o644)
        sim.start(sim.in_pod(*pinned(args, [sys.executable, __file__, "--server"])), "app.log")
        time.sleep(1)
        direct = client_phase(sim, args)
        run(sim.in_pod(sys.executable, "-m", "webhooks", "iptables", *init_args))
        proxy_dir = sim.workdir / "proxy"
        proxy_dir.mkdir()
        os.chown(proxy_dir, mesh.PROXY_UID, mesh.PROXY_GID)
        agent = sim.start(
            sim.as_proxy(
                sys.executable, "-m", "webhooks", "agent", "--envoy-binary", envoy_binary(),
                "--workdir", str(proxy_dir), "--podinfo-dir", str(sim.workdir / "pod"),
                "--bootstrap-dir", str(sim.workdir / "bootstrap"),
                "--concurrency", str(args.concurrency), "--proxy-log-level", "error",
            ),
            "agent.log",
            {**proxy_env, mesh.POD_NAME_ENV: "bench-0", mesh.POD_NAMESPACE_ENV: "bench",
             mesh.INSTANCE_IP_ENV: sim.pod_ip},
        )  # fmt: skip
        wait_for(lambda: get(sim, mesh.HEALTH_PORT, "/healthz/ready")[0] == 200, 30, "the sidecar")
        pid = envoy_pid(agent.pid)
        time.sleep(2)  # let start-up settle before the idle reading
        idle = memory_mb(pid)
        load_before = os.getloadavg()
        threads_before = thread_cpu_seconds(pid)
        cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
        sidecar = client_phase(sim, args)
        cpu_after, wall = cpu_seconds(pid), time.monotonic() - wall_before
        cpu = tuple((a - b) / wall for a, b in zip(cpu_after, cpu_before, strict=True))
        threads = {
            name: (seconds - threads_before.get(name, 0.0)) / wall
            for name, seconds in thread_cpu_seconds(pid).items()
        }
        loaded = memory_mb(pid)
        load_after = os.getloadavg()
        pool = _admin_stats(sim, mesh.ENVOY_ADMIN_PORT, _POOL_STATS)
    report(args, direct, sidecar, cpu, idle, loaded)
    busy = sorted(threads.items(), key=lambda item: -item[1])
    print("threads    " + ", ".join(f"{name} {vcpu:.3f}" for name, vcpu in busy if vcpu >= 0.001))
    print(f"upstream   {pool} (connections reused when cx_total << rq_total)")
    print(f"loadavg    before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min, 2 CPUs)")


_POOL_STATS = (
    r"^(cluster\.InboundPassthroughCluster\.upstream_(cx|rq)_total"
    r"|http\.inbound_http\.downstream_(cx|rq)_total)$"
)


def _admin_stats(sim: object, port: int, pattern: str) -> str:
    """Envoy's own counters, read after the load window so the read costs it nothing measured."""
    from tests.dataplane.podsim import PodSim, run

    assert isinstance(sim, PodSim)
    code = "import sys,urllib.parse as p,urllib.request as r;"
    code += f"print(r.urlopen('http://127.0.0.1:{port}/stats?filter='+p.quote(sys.argv[1])).read()"
    code += ".decode())"
    done = run(sim.in_pod(sys.executable, "-c", code, pattern), check=False)
    return ", ".join(line.rsplit(".", 1)[-1] for line in done.stdout.split("\n") if line)


def report(
    args: argparse.Namespace,
    direct: dict[str, float],
    sidecar: dict[str, float],
    cpu: tuple[float, ...],
    idle: dict[str, float],
    loaded: dict[str, float],
) -> None:
    print(
        f"load: {args.rate:g} req/s of 1 KB for {args.seconds:g}s, concurrency {args.concurrency}"
    )
    print(f"{'':10} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9}")
    for name, result in (("direct", direct), ("sidecar", sidecar)):
        print(f"{name:10} {result['p50_ms']:8.3f} {result['p99_ms']:8.3f} {result['count']:9.0f}")
    print(
        f"added      {sidecar['p50_ms'] - direct['p50_ms']:8.3f} "
        f"{sidecar['p99_ms'] - direct['p99_ms']:8.3f}"
    )
    user, system = cpu
    print(
        f"envoy cpu  {user + system:.3f} vCPU = user {user:.3f} + system {system:.3f}"
        " (target <= 0.15)"
    )
    for name, m in (("idle", idle), ("loaded", loaded)):
        print(
            f"envoy rss  {name:6} {m['VmRSS']:.1f} MB = anon {m['RssAnon']:.1f}"
            f" + file {m['RssFile']:.1f} + shmem {m['RssShmem']:.1f} (peak {m['VmHWM']:.1f});"
            f" pss {m['Pss']:.1f} = anon {m['Pss_Anon']:.1f} + file {m['Pss_File']:.1f}"
        )
    print("           (target: rss <= 40 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=2, help="Envoy worker threads")
    parser.add_argument("--bootstrap", type=Path, help="a bootstrap.yaml to run instead")
    parser.add_argument("--pin", metavar="CPU", help="taskset the app and load generator here")
    parser.add_argument("--server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", metavar="HOST", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.server:
        asyncio.run(serve(APP_PORT))
    elif args.client:
        latencies = asyncio.run(
            load(args.client, APP_PORT, args.rate, args.seconds, args.connections)
        )
        print(json.dumps(percentiles(latencies)))
    else:
        main_bench(args)


if __name__ == "__main__":
    main()
