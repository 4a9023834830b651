"""`mesh-webhooks iptables`: the init container; istio-iptables-compatible flags."""

import argparse
import logging
import os
import sys
from collections.abc import Callable
from typing import TypeVar

from webhooks import mesh
from webhooks.proxy import iptables
from webhooks.proxy.iptables import CaptureError, CaptureSpec

logger = logging.getLogger(__name__)
T = TypeVar("T")


def configure(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("-p", "--envoy-port", default=str(mesh.OUTBOUND_CAPTURE_PORT), help="outbound capture")
    add("-z", "--inbound-capture-port", default=str(mesh.INBOUND_CAPTURE_PORT))
    add("-u", "--proxy-uid", default=str(mesh.PROXY_UID), help="uid(s) never captured")
    add("-g", "--proxy-gid", default=None, help="gid(s) never captured; default: the -u value")
    add("-m", "--istio-inbound-interception-mode", default="REDIRECT", help="REDIRECT or NONE")
    add("-i", "--istio-service-cidr", default="*", help="outbound CIDRs captured; * = all")
    add("-x", "--istio-service-exclude-cidr", default="", help="outbound CIDRs never captured")
    add("-b", "--istio-inbound-ports", default="*", help="inbound ports captured; * = all")
    add("-d", "--istio-local-exclude-ports", default="", help="inbound ports excluded (with -b *)")
    add("-q", "--istio-outbound-ports", default="", help="outbound ports always captured")
    add("-o", "--istio-local-outbound-ports-exclude", default="", help="outbound ports excluded")
    add("-c", "--istio-exclude-interfaces", default="", help="interfaces never captured")
    add("-n", "--dry-run", action="store_true", help="print the rules instead of applying them")
    add(
        "--outside-pod",
        action="store_true",
        help="apply the rules even where KUBERNETES_SERVICE_HOST is not set (not in a pod)",
    )
    add("--iptables-restore", default="iptables-restore", help="binary (iptables-legacy-restore)")
    # istio-init also passes its log level; accepted so Istio-style pod specs keep working.
    add("--log_output_level", default="", help=argparse.SUPPRESS)


def spec_from_args(args: argparse.Namespace) -> CaptureSpec:
    uids = iptables.parse_ids(args.proxy_uid, "-u")
    return CaptureSpec(
        outbound_port=iptables.parse_port(args.envoy_port, "-p"),
        inbound_port=iptables.parse_port(args.inbound_capture_port, "-z"),
        uids=uids,
        gids=iptables.parse_ids(args.proxy_gid, "-g") if args.proxy_gid else uids,
        inbound_ports=_all_or(args.istio_inbound_ports, "-b", iptables.parse_ports),
        inbound_exclude_ports=iptables.parse_ports(args.istio_local_exclude_ports, "-d"),
        outbound_cidrs=_all_or(args.istio_service_cidr, "-i", iptables.parse_cidrs),
        outbound_exclude_cidrs=iptables.parse_cidrs(args.istio_service_exclude_cidr, "-x"),
        outbound_ports=iptables.parse_ports(args.istio_outbound_ports, "-q"),
        outbound_exclude_ports=iptables.parse_ports(args.istio_local_outbound_ports_exclude, "-o"),
        exclude_interfaces=iptables.parse_interfaces(args.istio_exclude_interfaces, "-c"),
    )


def _all_or(
    text: str, flag: str, parse: Callable[[str, str], tuple[T, ...]]
) -> tuple[T, ...] | None:
    return None if text.strip() == "*" else parse(text, flag)


# The kubelet sets it in every container (whatever enableServiceLinks says): without it, this is
# not an init container, and the rules would capture this machine's own TCP traffic, sending
# every new connection to a port nothing listens on.
_IN_A_POD = "KUBERNETES_SERVICE_HOST"


def _check_in_a_pod(outside_pod: bool) -> None:
    if outside_pod or _IN_A_POD in os.environ:
        return
    raise CaptureError(
        f"{_IN_A_POD} is not set, so this is not a Kubernetes pod: refusing to install capture "
        "rules that would redirect this machine's TCP traffic. --dry-run prints them; "
        "--outside-pod installs them anyway (e.g. in a network namespace of your own)"
    )


def run(args: argparse.Namespace) -> int:
    mode = args.istio_inbound_interception_mode.upper()
    try:
        if mode == "NONE":
            logger.info("interception mode NONE: no capture rules")
            return 0
        if mode != "REDIRECT":
            raise CaptureError(f"-m: interception mode {mode!r} is not supported; use REDIRECT")
        rules = iptables.build_rules(spec_from_args(args))
        if args.dry_run:
            sys.stdout.write(rules)
            return 0
        _check_in_a_pod(args.outside_pod)
        iptables.apply_rules(rules, args.iptables_restore)
    except CaptureError as error:
        sys.stderr.write(f"mesh-webhooks iptables: {error}\n")
        return 2
    logger.info("capture rules applied", extra={"rules": rules.count("\n-A ")})
    return 0
