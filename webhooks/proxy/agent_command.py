"""`mesh-webhooks agent [wait|drain]`: the sidecar's entrypoint, its postStart readiness wait
(holdApplicationUntilProxyStarts) and its preStop drain (native sidecars).

Every input has a flag whose default comes from the pod (env set by the injector, mounted files),
so the same agent runs in a pod and in tests pointed at temp dirs and shifted ports.
"""

import argparse
import http.client
import os
import shutil
import sys
from pathlib import Path

from webhooks import argtypes, mesh
from webhooks.proxy import agent, bootstrap, metrics, probes, proxy_config


def configure(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "action",
        nargs="?",
        choices=["run", "wait", "drain"],
        default="run",
        help="wait: until the proxy is ready; drain: ask the running agent to start draining",
    )
    add(
        "--envoy-binary", default=os.environ.get("ENVOY_BINARY") or shutil.which("envoy") or "envoy"
    )
    add("--workdir", type=Path, default=Path(mesh.ENVOY_DIR), help="where the bootstrap is written")
    add("--podinfo-dir", type=Path, default=Path(mesh.PODINFO_DIR))
    add("--bootstrap-dir", type=Path, default=Path(mesh.BOOTSTRAP_DIR))
    add("--config-yaml-file", type=Path, help="additive Envoy overlay (--config-yaml)")
    add("--port-offset", type=int, default=0, help="shift every well-known port (tests)")
    # These three default to PROXY_CONFIG's fields, read in run() so that errors are reported.
    add("--status-port", type=int, help="default: PROXY_CONFIG statusPort, else 15020")
    add("--concurrency", type=int, help="default: PROXY_CONFIG concurrency, else 2 (0: per core)")
    add("--drain-duration", help="default: PROXY_CONFIG terminationDrainDuration, else 5s")
    add("--proxy-log-level", default=os.environ.get(mesh.PROXY_LOG_LEVEL_ENV) or "warning")
    add("--proxy-component-log-level", default=os.environ.get(mesh.PROXY_COMPONENT_LOG_LEVEL_ENV))
    add("--app-host", default="127.0.0.1", help="where the app's metrics are scraped")
    add("--probe-source-ip", default=mesh.INBOUND_PASSTHROUGH_IP)
    add(
        "--timeout",
        type=argtypes.seconds,
        default=60.0,
        help="wait: give up after this many seconds",
    )


def run(args: argparse.Namespace) -> int:
    if args.action == "wait":
        return _wait(args)
    if args.action == "drain":
        return _drain(args)
    try:
        settings = settings_from(args)
    except (ValueError, OSError) as error:
        sys.stderr.write(f"mesh-webhooks agent: {error}\n")
        return 2
    return agent.run_agent(settings)


def settings_from(args: argparse.Namespace) -> agent.AgentSettings:
    """The agent's settings: flags first, then the pod's env (PROXY_CONFIG and the injector's
    JSON), then defaults. Raises ValueError naming what cannot be used."""
    env = os.environ
    config = proxy_config.parse(env.get(mesh.PROXY_CONFIG_ENV, ""))
    status_port = _status_port(args, config)
    drain = config.drain_seconds
    if args.drain_duration is not None:
        try:
            drain = proxy_config.parse_duration(args.drain_duration)
        except ValueError as error:
            raise proxy_config.ProxyConfigError(f"--drain-duration {error}") from None
    targets = env.get(mesh.PROMETHEUS_ANNOTATIONS_ENV, "")
    _check_offset(args.port_offset, (*mesh.RESERVED_PORTS, status_port))
    return agent.AgentSettings(
        envoy_binary=args.envoy_binary,
        pod=bootstrap.read_pod_identity(env, args.podinfo_dir),
        workdir=args.workdir,
        bootstrap_dir=args.bootstrap_dir,
        probes=probes.parse_probers(env.get(mesh.APP_PROBERS_ENV, "")),
        scrape_targets=metrics.parse_targets(targets, status_port),
        port_offset=args.port_offset,
        status_port=status_port,
        drain_seconds=drain,
        concurrency=_override(args.concurrency, config.concurrency),
        log_level=args.proxy_log_level,
        component_log_level=args.proxy_component_log_level or "",
        config_yaml=args.config_yaml_file.read_text() if args.config_yaml_file else "",
        app_host=args.app_host,
        probe_source_ip=args.probe_source_ip,
    )


def _override(flag: int | None, configured: int) -> int:
    return configured if flag is None else flag


def _status_port(args: argparse.Namespace, config: proxy_config.ProxyConfig) -> int:
    return proxy_config.check_status_port(_override(args.status_port, config.status_port))


def _check_offset(offset: int, ports: tuple[int, ...]) -> None:
    if not all(0 < port + offset < 65536 for port in ports):
        raise ValueError(f"--port-offset {offset} moves a port outside 1-65535")


def _drain(args: argparse.Namespace) -> int:
    try:
        status_port = _status_port(
            args, proxy_config.parse(os.environ.get(mesh.PROXY_CONFIG_ENV, ""))
        )
        _check_offset(args.port_offset, (status_port,))
    except ValueError as error:
        sys.stderr.write(f"mesh-webhooks agent drain: {error}\n")
        return 2
    port = status_port + args.port_offset
    try:
        agent.request_drain(port)
    except (OSError, http.client.HTTPException) as error:
        url = f"http://127.0.0.1:{port}/drain"
        sys.stderr.write(f"mesh-webhooks agent drain: cannot start the drain ({url}): {error}\n")
        return 1
    return 0


def _wait(args: argparse.Namespace) -> int:
    port = mesh.HEALTH_PORT + args.port_offset
    if agent.wait_until_ready(port, args.timeout):
        return 0
    url = f"http://127.0.0.1:{port}/healthz/ready"
    sys.stderr.write(f"mesh-webhooks agent wait: proxy not ready after {args.timeout:g}s ({url})\n")
    return 1
