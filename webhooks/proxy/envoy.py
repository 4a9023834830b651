"""Envoy as the agent's child process: start it, relay its log, ask its admin API, stop it."""

import asyncio
import collections
import ctypes
import http.client
import logging
import math
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass

logger = logging.getLogger(__name__)

LOG_TAIL_LINES = 30
LONGEST_LINE = 16 * 1024  # of Envoy's stderr passed on whole; longer ones go in pieces
ADMIN_TIMEOUT_SECONDS = 3.0
_PR_SET_PDEATHSIG = 1
_READY_FILTER = r"^(server\.state|listener_manager\.workers_started)$"


@dataclass(frozen=True)
class EnvoyOptions:
    binary: str
    config_path: str
    drain_seconds: float
    concurrency: int = 0  # 0: Envoy's own default (one worker per core)
    log_level: str = "warning"
    component_log_level: str = ""
    config_yaml: str = ""  # additive overlay (protobuf merge) on top of the rendered bootstrap

    def command(self) -> list[str]:
        command = [
            self.binary,
            *("-c", self.config_path),
            *("--drain-time-s", str(math.ceil(self.drain_seconds))),  # 0: no drain
            *("--drain-strategy", "immediate"),
            *("--local-address-ip-version", "v4"),
            *("--file-flush-interval-msec", "1000"),
            "--disable-hot-restart",
            *("-l", self.log_level),
        ]
        if self.component_log_level:
            command += ["--component-log-level", self.component_log_level]
        if self.concurrency > 0:
            command += ["--concurrency", str(self.concurrency)]
        if self.config_yaml:
            command += ["--config-yaml", self.config_yaml]
        return command


class EnvoyProcess:
    """One Envoy child; its stderr is relayed to ours and the last lines are kept for errors."""

    def __init__(self, options: EnvoyOptions) -> None:
        self.options = options
        self.tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
        self._process: asyncio.subprocess.Process | None = None
        self._relay: asyncio.Task[None] | None = None
        self.stop_requested = False  # an exit after stop() is ours, not Envoy dying

    async def start(self) -> None:
        # stdout (the access log) is inherited: it goes straight to the container log.
        # Envoy gets its own session: a signal to our process group must reach the agent only,
        # which drains before it stops Envoy; and Envoy dies with the agent (PDEATHSIG).
        self._process = await asyncio.create_subprocess_exec(
            *self.options.command(),
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._relay = asyncio.create_task(self._relay_log())
        logger.info("envoy started", extra={"pid": self._process.pid})

    async def _relay_log(self) -> None:
        """Envoy's stderr to ours, line by line, keeping the tail. Read in chunks, not lines: a
        line past the reader's 64 KiB limit would end the relay, and Envoy would then block on
        a full pipe; such a line is passed on in pieces of at most LONGEST_LINE bytes."""
        assert self._process is not None
        assert self._process.stderr is not None
        stream, pending = self._process.stderr, b""
        while chunk := await stream.read(LONGEST_LINE):
            *lines, pending = (pending + chunk).split(b"\n")
            if len(pending) >= LONGEST_LINE:
                lines.append(pending)
                pending = b""
            for raw in lines:
                self._emit(raw)
        if pending:
            self._emit(pending)

    def _emit(self, raw: bytes) -> None:
        line = raw.decode(errors="replace")
        self.tail.append(line)
        sys.stderr.write(line + "\n")

    async def wait(self) -> int:
        assert self._process is not None
        code = await self._process.wait()
        if self._relay is not None:
            await self._relay  # collect the last lines before anyone reads the tail
        return code

    async def stop(self, grace_seconds: float = 5.0) -> None:
        self.stop_requested = True
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), grace_seconds)
        except TimeoutError:
            process.kill()
            await process.wait()


class EnvoyAdmin:
    """Blocking calls to the admin API, run in a thread so the status server stays responsive."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port

    async def request(self, method: str, path: str) -> tuple[int, bytes]:
        return await asyncio.to_thread(self._request, method, path)

    def _request(self, method: str, path: str) -> tuple[int, bytes]:
        return http_request(self.host, self.port, method, path, ADMIN_TIMEOUT_SECONDS)

    async def is_ready(self) -> bool:
        """LIVE with workers started. No CDS/LDS check: a static bootstrap has neither."""
        try:
            status, body = await self.request("GET", f"/stats?filter={_READY_FILTER}")
        except OSError:
            return False
        stats = parse_stats(body.decode(errors="replace"))
        return status == 200 and stats.get("server.state") == 0 and _started(stats)

    async def post(self, paths: Sequence[str]) -> None:
        for path in paths:
            try:
                status, _ = await self.request("POST", path)
                logger.info("envoy admin", extra={"path": path, "status": status})
            except OSError as error:
                logger.warning("envoy admin failed", extra={"path": path, "error": str(error)})


def http_request(host: str, port: int, method: str, path: str, timeout: float) -> tuple[int, bytes]:
    """One blocking plain-HTTP request; the status and the whole body."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _started(stats: dict[str, int]) -> bool:
    return stats.get("listener_manager.workers_started") == 1


def parse_stats(text: str) -> dict[str, int]:
    stats: dict[str, int] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(": ")
        if sep and value.strip().lstrip("-").isdigit():
            stats[name.strip()] = int(value)
    return stats
