"""The sidecar agent: render the bootstrap, run Envoy as a child, serve 15020, drain on SIGTERM.

The agent is the container's PID 1. It exits when Envoy exits: 0 after a requested stop,
Envoy's code (never 0; 128+N for signal N) with Envoy's last log lines when Envoy died on its own,
even during a drain.
"""

import asyncio
import contextlib
import http.client
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from webhooks import mesh
from webhooks.proxy import bootstrap, proxy_config, status
from webhooks.proxy.envoy import EnvoyAdmin, EnvoyOptions, EnvoyProcess, http_request
from webhooks.proxy.metrics import MetricsMerger, Target
from webhooks.proxy.probes import AppProbe, AppProber

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentSettings:
    envoy_binary: str
    pod: bootstrap.PodIdentity
    workdir: Path
    bootstrap_dir: Path | None
    probes: dict[str, AppProbe] = field(default_factory=dict)
    scrape_targets: tuple[Target, ...] = ()
    port_offset: int = 0
    status_port: int = mesh.STATUS_PORT  # PROXY_CONFIG statusPort: probes, metrics, readiness
    drain_seconds: float = 5.0
    concurrency: int = proxy_config.DEFAULT_CONCURRENCY  # 0: Envoy's default, one per core
    log_level: str = "warning"
    component_log_level: str = ""
    config_yaml: str = ""
    app_host: str = "127.0.0.1"
    probe_source_ip: str = mesh.INBOUND_PASSTHROUGH_IP

    def __post_init__(self) -> None:
        proxy_config.check_status_port(self.status_port)
        proxy_config.check_concurrency(self.concurrency)

    def port(self, well_known: int) -> int:
        return well_known + self.port_offset


class Agent:
    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self.admin = EnvoyAdmin(settings.port(mesh.ENVOY_ADMIN_PORT))
        self.envoy: EnvoyProcess | None = None
        self.draining = False
        self._drain_began = 0.0  # time.monotonic() of the first drain
        self.stopping = False
        self._ready_once = False
        self._stop_task: asyncio.Task[None] | None = None

    async def run(self) -> int:
        s = self.settings
        template = bootstrap.load_template(s.bootstrap_dir)
        rendered = bootstrap.render(template, s.pod, s.port_offset, s.status_port)
        config_path = bootstrap.write_rendered(rendered, s.workdir)
        server = await status.serve(self._routes(), "0.0.0.0", s.port(s.status_port))
        self.envoy = EnvoyProcess(self._envoy_options(str(config_path)))
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self._on_signal, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, self._on_signal, "SIGINT")
        try:
            await self.envoy.start()
            code = await self.envoy.wait()
        finally:
            server.close()
        return await self._finish(code)

    async def _finish(self, code: int) -> int:
        assert self.envoy is not None
        if self.envoy.stop_requested:
            assert self._stop_task is not None
            await self._stop_task
            logger.info("agent stopped", extra={"envoy_exit": code})
            return 0
        if self._stop_task is not None:  # Envoy died during the drain: no point waiting it out
            self._stop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stop_task
        logger.error(
            "envoy exited on its own",
            extra={
                "envoy_exit": code,
                "draining": self.draining,
                "envoy_log_tail": list(self.envoy.tail),
            },
        )
        return exit_status(code)

    def _envoy_options(self, config_path: str) -> EnvoyOptions:
        s = self.settings
        return EnvoyOptions(
            binary=s.envoy_binary,
            config_path=config_path,
            drain_seconds=s.drain_seconds,
            concurrency=s.concurrency,
            log_level=s.log_level,
            component_log_level=s.component_log_level,
            config_yaml=s.config_yaml,
        )

    def _routes(self) -> status.StatusRoutes:
        s = self.settings
        prober = AppProber(
            s.probes, s.pod.ip or "127.0.0.1", s.probe_source_ip, s.port(s.status_port)
        )
        merger = MetricsMerger(s.port(mesh.ENVOY_PROMETHEUS_PORT), s.scrape_targets, s.app_host)
        return status.StatusRoutes(
            prober=prober,
            merger=merger,
            is_ready=self.is_ready,
            is_draining=lambda: self.draining,
            drain=self.drain,
            quit=lambda: self._begin_stop(drain=False),
        )

    async def is_ready(self) -> bool:
        # Cached after the first success, like Istio: later failures are the drain's business.
        if not self._ready_once:
            self._ready_once = await self.admin.is_ready()
        return self._ready_once

    async def drain(self) -> None:
        """Fail health checks and drain inbound listeners gracefully; Envoy keeps running. The
        listeners stay open past the drain time (skip_exit, as Istio's agent asks): a native
        sidecar drains from its preStop hook while its app may still serve for longer, and
        inbound connections refused then would fail; SIGTERM's path stops Envoy itself."""
        if not self.draining:
            self.draining, self._drain_began = True, time.monotonic()
        await self.admin.post(
            ["/healthcheck/fail", "/drain_listeners?inboundonly&graceful&skip_exit"]
        )

    def _on_signal(self, name: str) -> None:
        logger.info("signal received", extra={"signal": name})
        self._begin_stop(drain=True)

    def _begin_stop(self, drain: bool) -> None:
        if self.stopping:
            return
        self.stopping = True
        self._stop_task = asyncio.create_task(self._stop(drain))

    async def _stop(self, drain: bool) -> None:
        if drain:
            await self.drain()
            # A drain that began earlier (a native sidecar's preStop hook, `agent drain`) counts:
            # the sidecar is stopped only after its app containers, so it has drained meanwhile.
            left = self._drain_began + self.settings.drain_seconds - time.monotonic()
            logger.info("draining", extra={"seconds": round(max(left, 0.0), 3)})
            await asyncio.sleep(max(left, 0.0))
        assert self.envoy is not None
        await self.envoy.stop()


def exit_status(envoy_code: int) -> int:
    """The agent's status for an Envoy that died: its code, 128+N for signal N, never 0."""
    if envoy_code < 0:
        return 128 - envoy_code
    return envoy_code or 1


def run_agent(settings: AgentSettings) -> int:
    os.umask(0o077)  # the rendered bootstrap carries pod metadata: keep it to ourselves
    try:
        return asyncio.run(Agent(settings).run())
    except OSError as error:  # status port taken, Envoy binary missing, workdir read-only
        logger.error("agent could not start", extra={"error": str(error)})
        return 1


def request_drain(port: int, timeout: float = 10.0) -> None:
    """Ask the agent on 127.0.0.1:`port` (its status port) to start draining; the preStop hook
    of a native sidecar. Raises OSError or http.client.HTTPException if it cannot."""
    status_code, body = http_request("127.0.0.1", port, "POST", "/drain", timeout)
    if status_code != 200:
        reason = body.decode("utf-8", "replace").strip()
        raise http.client.HTTPException(f"HTTP {status_code}: {reason}")


def wait_until_ready(port: int, timeout: float, interval: float = 0.5) -> bool:
    """Poll the proxy's readiness on 127.0.0.1:`port`; the postStart hook of
    holdApplicationUntilProxyStarts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, _ = http_request(
                "127.0.0.1", port, "GET", "/healthz/ready", min(interval * 2, 3.0)
            )
            if status == 200:
                return True
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(interval)
    return False
