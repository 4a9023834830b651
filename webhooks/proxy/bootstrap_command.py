"""`mesh-webhooks bootstrap`: print the Envoy bootstrap rendered for a pod."""

import argparse
import json
import os
import sys
from pathlib import Path

import yaml

from webhooks import mesh
from webhooks.proxy import bootstrap


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
    parser.add_argument("--format", choices=["yaml", "json"], default="yaml")


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    if args.pod_name:
        env[mesh.POD_NAME_ENV] = args.pod_name
    if args.namespace:
        env[mesh.POD_NAMESPACE_ENV] = args.namespace
    pod = bootstrap.read_pod_identity(env, args.podinfo_dir)
    config = bootstrap.render(bootstrap.load_template(args.override_dir), pod)
    if args.format == "json":
        sys.stdout.write(json.dumps(config, indent=2) + "\n")
    else:
        sys.stdout.write(yaml.safe_dump(config, sort_keys=False, width=100))
    return 0
