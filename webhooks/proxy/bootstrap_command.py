"""`mesh-webhooks bootstrap`: print the Envoy bootstrap rendered for a pod."""

import argparse
import json
import os
import sys
from pathlib import Path

import yaml

from webhooks import mesh
from webhooks.proxy import bootstrap, proxy_config


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pod-name", help=f"default: ${mesh.POD_NAME_ENV}")
    parser.add_argument("--namespace", help=f"default: ${mesh.POD_NAMESPACE_ENV}")
    parser.add_argument("--podinfo-dir", type=Path, default=Path(mesh.PODINFO_DIR))
    parser.add_argument(
        "--override-dir",
        type=Path,
        default=Path(mesh.BOOTSTRAP_DIR),
        help="a bootstrap.yaml here replaces the packaged one",
    )
    parser.add_argument(
        "--status-port", type=int, help="default: PROXY_CONFIG statusPort, else 15020"
    )
    parser.add_argument("--format", choices=["yaml", "json"], default="yaml")


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    if args.pod_name:
        env[mesh.POD_NAME_ENV] = args.pod_name
    if args.namespace:
        env[mesh.POD_NAMESPACE_ENV] = args.namespace
    try:
        status_port = proxy_config.parse(env.get(mesh.PROXY_CONFIG_ENV, "")).status_port
        if args.status_port is not None:
            status_port = proxy_config.check_status_port(args.status_port)
    except ValueError as error:
        sys.stderr.write(f"mesh-webhooks bootstrap: {error}\n")
        return 2
    pod = bootstrap.read_pod_identity(env, args.podinfo_dir)
    template = bootstrap.load_template(args.override_dir)
    config = bootstrap.render(template, pod, status_port=status_port)
    if args.format == "json":
        sys.stdout.write(json.dumps(config, indent=2) + "\n")
    else:
        sys.stdout.write(yaml.safe_dump(config, sort_keys=False, width=100))
    return 0
