"""`mesh-webhooks agent [wait]`: the sidecar's entrypoint, and its postStart readiness wait.

Every input has a flag whose default comes from the pod (env set by the injector, mounted files),
so the same agent runs in a pod and in tests pointed at temp dirs and shifted ports.
"""

import argparse
import json
import logging
import os
import re
import shutil
import sys
from pathlib import Path

from webhooks import mesh
from webhooks.proxy import agent, bootstrap, metrics, probes

logger = logging.getLogger(__name__)

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def parse_duration(text: str) -> float:
    """Seconds from a protobuf/Go duration ("5s", "1m30s", "250ms") or a bare number."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    if not text or _DURATION_PART.sub("", text):
        raise ValueError(f"{text!r} is not a duration (e.g. 5s, 1m30s)")
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))


def _proxy_config() -> dict[str, object]:
    try:
        config = json.loads(os.environ.get(mesh.PROXY_CONFIG_ENV) or "{}")
    except ValueError:
        logger.error("PROXY_CONFIG is not JSON; using defaults")
        return {}
    return config if isinstance(config, dict) else {}


def configure(parser: argparse.ArgumentParser) -> None:
    proxy_config = _proxy_config()
    add = parser.add_argument
    add("action", nargs="?", choices=["run", "wait"], default="run", help="wait: until ready")
    add(
        "--envoy-binary", default=os.environ.get("ENVOY_BINARY") or shutil.which("envoy") or "envoy"
    )
    add("--workdir", type=Path, default=Path(mesh.ENVOY_DIR), help="where the bootstrap is written")
    add("--podinfo-dir", type=Path, default=Path(mesh.PODINFO_DIR))
    add("--bootstrap-dir", type=Path, default=Path(mesh.BOOTSTRAP_DIR))
    add("--config-yaml-file", type=Path, help="additive Envoy overlay (--config-yaml)")
    add("--port-offset", type=int, default=0, help="shift every well-known port (tests)")
    add("--concurrency", type=int, default=int(str(proxy_config.get("concurrency") or 2)))
    add(
        "--drain-duration",
        default=str(proxy_config.get("terminationDrainDuration") or "5s"),
        help="terminationDrainDuration",
    )
    add("--proxy-log-level", default=os.environ.get(mesh.PROXY_LOG_LEVEL_ENV) or "warning")
    add("--proxy-component-log-level", default=os.environ.get(mesh.PROXY_COMPONENT_LOG_LEVEL_ENV))
    add("--app-host", default="127.0.0.1", help="where the app's metrics are scraped")
    add("--probe-source-ip", default=mesh.INBOUND_PASSTHROUGH_IP)
    add("--timeout", type=float, default=60.0, help="wait: give up after this many seconds")


def run(args: argparse.Namespace) -> int:
    if args.action == "wait":
        return _wait(args)
    try:
        settings = _settings(args)
    except (ValueError, OSError) as error:
        sys.stderr.write(f"mesh-webhooks agent: {error}\n")
        return 2
    return agent.run_agent(settings)


def _settings(args: argparse.Namespace) -> agent.AgentSettings:
    env = os.environ
    return agent.AgentSettings(
        envoy_binary=args.envoy_binary,
        pod=bootstrap.read_pod_identity(env, args.podinfo_dir),
        workdir=args.workdir,
        bootstrap_dir=args.bootstrap_dir,
        probes=probes.parse_probers(env.get(mesh.APP_PROBERS_ENV, "")),
        scrape_targets=metrics.parse_targets(env.get(mesh.PROMETHEUS_ANNOTATIONS_ENV, "")),
        port_offset=args.port_offset,
        drain_seconds=parse_duration(args.drain_duration),
        concurrency=args.concurrency,
        log_level=args.proxy_log_level,
        component_log_level=args.proxy_component_log_level or "",
        config_yaml=args.config_yaml_file.read_text() if args.config_yaml_file else "",
        app_host=args.app_host,
        probe_source_ip=args.probe_source_ip,
    )


def _wait(args: argparse.Namespace) -> int:
    url = f"http://127.0.0.1:{mesh.HEALTH_PORT + args.port_offset}/healthz/ready"
    if agent.wait_until_ready(url, args.timeout):
        return 0
    sys.stderr.write(f"mesh-webhooks agent wait: proxy not ready after {args.timeout:g}s ({url})\n")
    return 1
