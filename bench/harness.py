"""Side-by-side admission throughput: our endpoints against a do-nothing one on the same stack.

The server runs in its own process (`python -m bench.harness serve`) with the real handlers
from the composition root plus `/noop`, which answers allowed without looking at the request.
Load comes from wrk (a C load generator, so the client is not the bottleneck), one path at a
time, alternating, best of several rounds.
"""

import argparse
import contextlib
import operator
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from webhooks.server.metrics import LATENCY_NAME as ENDPOINT_TIME

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("{body}", "rb"))
wrk.body = f:read("*a")
f:close()
"""


@dataclass(frozen=True)
class Result:
    path: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int

    def line(self) -> str:
        return (
            f"{self.path:<12} {self.requests_per_second:9.0f} req/s   p50 {self.p50_ms:7.3f} ms"
            f"   p99 {self.p99_ms:7.3f} ms   errors {self.errors}"
        )


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is needed for the benchmarks: apt-get install wrk")
    return found


def _milliseconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(path: str, output: str) -> Result:
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    if rps is None or "50" not in percentiles:
        raise RuntimeError(f"cannot read wrk output:\n{output}")
    return Result(
        path, float(rps.group(1)), _milliseconds(percentiles["50"]),
        _milliseconds(percentiles["99"]), errors,
    )  # fmt: skip


def run_wrk(port: int, path: str, body: bytes, seconds: float = 5, connections: int = 8) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        body_file, script = Path(tmp, "body.json"), Path(tmp, "post.lua")
        body_file.write_bytes(body)
        script.write_text(WRK_SCRIPT.format(body=body_file))
        command = [
            ensure_wrk(), "--latency", "-t1", f"-c{connections}", f"-d{seconds}s",
            "-s", str(script), f"https://127.0.0.1:{port}{path}",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse_wrk(path, done.stdout)


Totals = dict[tuple[str, str], tuple[float, float]]  # (name, path label) -> (sum, count)


@dataclass(frozen=True)
class Server:
    port: int
    ca_pem: bytes  # of the CA that signed its serving certificate

    def totals(self) -> Totals:
        """(sum, count) of every histogram the server exposes, keyed by (name, path label): the
        time it spent inside, as opposed to what wrk sees from outside."""
        from tests import servers

        context = servers.client_context(self.ca_pem)
        url = f"https://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, context=context, timeout=10) as answer:
            text = answer.read().decode()
        sums: dict[tuple[str, str], list[float]] = {}
        for family in text_string_to_metric_families(text):
            if family.type != "histogram":
                continue
            for sample in family.samples:
                if sample.name.endswith(("_sum", "_count")):
                    key = (family.name, sample.labels.get("path", ""))
                    sums.setdefault(key, [0.0, 0.0])[sample.name.endswith("_count")] = sample.value
        return {key: (total, count) for key, (total, count) in sums.items()}


@contextlib.contextmanager
def bench_server(source: Path | None = None) -> Iterator[Server]:
    """The real server (real handlers, TLS, uvloop) plus /noop, in a child process; `source`: a
    checkout to run the server from instead of this one (see bench/ab.py)."""
    from tests import servers
    from webhooks.certs import issuing

    ca = issuing.create_ca("bench CA")
    pair = issuing.issue_serving_cert(ca, ["127.0.0.1"])
    port = servers.free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = servers.write_pair(Path(tmp), pair)
        command = [sys.executable, "-m", "bench.harness", "serve", str(port), str(cert), str(key)]
        process = subprocess.Popen(
            command, cwd=source, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    servers.peer_certificate(port, ca.cert_pem)
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("benchmark server did not start") from None
                    time.sleep(0.05)
            yield Server(port, ca.cert_pem)
        finally:
            process.terminate()
            process.wait(timeout=15)


def mean_microseconds(before: Totals, after: Totals, key: tuple[str, str]) -> float:
    (total_before, count_before), (total, count) = before.get(key, (0.0, 0.0)), after[key]
    return 1e6 * (total - total_before) / max(count - count_before, 1)


@dataclass(frozen=True)
class Measured:
    """One server's rounds: the floor's and the subject's, in turn, and its histograms before and
    after them. Each histogram moves only while its own path is driven, so one reading before
    the rounds and one after are enough."""

    path: str
    floor: list[Result]
    subject: list[Result]
    before: Totals
    after: Totals

    def best(self) -> tuple[Result, Result]:
        """Each side's best round, the least disturbed by noise."""
        rate = operator.attrgetter("requests_per_second")
        return max(self.floor, key=rate), max(self.subject, key=rate)

    def cost_ratio(self) -> float:
        floor, subject = self.best()
        return floor.requests_per_second / subject.requests_per_second

    def inside(self, handler_time: str | None) -> str:
        """The mean time inside the server per request over all rounds, from its own histograms:
        per admission path, from reading the body to the response built, and `handler_time`
        (a histogram of the component's handler alone) when given. Less noisy than wrk's
        figures, it shows where the time goes rather than what the client waits."""
        us = {
            p: mean_microseconds(self.before, self.after, (ENDPOINT_TIME, p))
            for p in ("/noop", self.path)
        }
        text = f"/noop {us['/noop']:.0f} us, {self.path} {us[self.path]:.0f} us"
        if handler_time:
            handler = mean_microseconds(self.before, self.after, (handler_time, ""))
            text += f", of which its handler {handler:.1f} us"
        return text


def measure(
    servers: Sequence[Server], path: str, body: bytes, rounds: int, seconds: int
) -> list[Measured]:
    """Rounds of the floor (/noop) then `path` on each server, the servers in turn, so that the
    machine's noise hits every side alike."""
    for server in servers:  # warm-up
        for warmed in ("/noop", path):
            run_wrk(server.port, warmed, body, seconds=1)
    before = [server.totals() for server in servers]
    floors: list[list[Result]] = [[] for _ in servers]
    subjects: list[list[Result]] = [[] for _ in servers]
    for _ in range(rounds):
        for server, floor, subject in zip(servers, floors, subjects, strict=True):
            floor.append(run_wrk(server.port, "/noop", body, seconds))
            subject.append(run_wrk(server.port, path, body, seconds))
    after = [server.totals() for server in servers]
    return [Measured(path, *sides) for sides in zip(floors, subjects, before, after, strict=True)]


def compare(
    server: Server,
    path: str,
    body: bytes,
    rounds: int = 3,
    seconds: int = 4,
    handler_time: str | None = None,
) -> str:
    """Alternate floor and subject on one server; report each one's best round, their cost
    ratio and the time inside the server (Measured.inside)."""
    [measured] = measure([server], path, body, rounds, seconds)
    floor, subject = measured.best()
    return "\n".join(
        [
            floor.line(),
            subject.line(),
            f"cost ratio {path} / floor (time per request): {measured.cost_ratio():.2f}x"
            f"   p50 ratio: {subject.p50_ms / floor.p50_ms:.2f}x",
            "inside the server, body read to response built (mean over the rounds): "
            + measured.inside(handler_time),
        ]
    )


def _serve(port: int, cert: Path, key: Path) -> None:
    from webhooks import cli
    from webhooks.admission import responses
    from webhooks.server import main

    cli.configure_logging("info")  # as `mesh-webhooks serve` runs: a JSON line per request
    settings = main.ServerSettings(host="127.0.0.1", port=port, cert_file=cert, key_file=key)
    main.run_on_uvloop(main.serve_files(settings, extra_handlers={"/noop": responses.allow}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("port", type=int)
    serve.add_argument("cert", type=Path)
    serve.add_argument("key", type=Path)
    args = parser.parse_args()
    _serve(args.port, args.cert, args.key)
