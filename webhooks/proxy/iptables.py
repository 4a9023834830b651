"""Traffic capture for a pod: the Istio-compatible nat rule set, applied atomically.

`build_rules(spec)` returns `iptables-restore` input; `apply_rules` loads it in one transaction.
Every rule lives in our ISTIO_* chains except the two jumps from PREROUTING and OUTPUT, so a
re-run replaces the set instead of stacking a second copy.
"""

import ipaddress
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from webhooks import mesh, numbers

CHAINS = ("ISTIO_INBOUND", "ISTIO_IN_REDIRECT", "ISTIO_REDIRECT", "ISTIO_OUTPUT")
_INTERFACE = re.compile(r"^[A-Za-z0-9_.:@+-]{1,15}$")
_CAP_NET_ADMIN = 12


class CaptureError(Exception):
    """Bad flags or an environment that cannot apply the rules; the message is for the user."""


@dataclass(frozen=True)
class CaptureSpec:
    outbound_port: int = mesh.OUTBOUND_CAPTURE_PORT
    inbound_port: int = mesh.INBOUND_CAPTURE_PORT
    uids: tuple[str, ...] = (str(mesh.PROXY_UID),)
    gids: tuple[str, ...] = (str(mesh.PROXY_GID),)
    inbound_ports: tuple[int, ...] | None = None  # None = all ("*"), () = no inbound capture
    inbound_exclude_ports: tuple[int, ...] = ()
    outbound_cidrs: tuple[str, ...] | None = None  # None = all ("*"), () = no outbound capture
    outbound_exclude_cidrs: tuple[str, ...] = ()
    outbound_ports: tuple[int, ...] = ()
    outbound_exclude_ports: tuple[int, ...] = ()
    exclude_interfaces: tuple[str, ...] = ()


def parse_port(text: str, flag: str) -> int:
    text = text.strip()
    port = numbers.whole_number(text)
    if port is None or not 0 < port < 65536:
        raise CaptureError(f"{flag}: {text!r} is not a port (1-65535)")
    return port


def parse_ports(text: str, flag: str) -> tuple[int, ...]:
    return tuple(parse_port(p, flag) for p in _items(text))


def parse_cidrs(text: str, flag: str) -> tuple[str, ...]:
    """IPv4 networks, normalised; IPv6 ones are dropped because these are IPv4 (iptables) rules."""
    networks = []
    for item in _items(text):
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise CaptureError(f"{flag}: {item!r} is not an IP range (CIDR)") from None
        if network.version == 4:
            networks.append(str(network))
    return tuple(networks)


def parse_interfaces(text: str, flag: str) -> tuple[str, ...]:
    names = _items(text)
    for name in names:
        if not _INTERFACE.match(name):
            raise CaptureError(f"{flag}: {name!r} is not a network interface name")
    return tuple(names)


def _is_id(text: str) -> bool:
    value = numbers.whole_number(text)
    return value is not None and value <= 2**32 - 2


def parse_ids(text: str, flag: str) -> tuple[str, ...]:
    ids = _items(text)
    # 2^32 - 2: the largest id the kernel's uid/gid types can hold (-1 means "no id").
    if not ids or not all(_is_id(i) for i in ids):
        raise CaptureError(f"{flag}: {text!r} is not a numeric id or a comma-separated list")
    return tuple(ids)


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def build_rules(spec: CaptureSpec) -> str:
    """The nat table as `iptables-restore --noflush` input."""
    lines = ["*nat", *(f":{chain} - [0:0]" for chain in CHAINS)]
    lines.append(f"-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports {spec.outbound_port}")
    lines.append(f"-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports {spec.inbound_port}")
    if spec.inbound_ports != ():
        lines.append("-A PREROUTING -p tcp -j ISTIO_INBOUND")
        lines += _inbound_rules(spec)
    lines.append("-A OUTPUT -p tcp -j ISTIO_OUTPUT")
    lines += _output_rules(spec)
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def _inbound_rules(spec: CaptureSpec) -> list[str]:
    rules = [f"-A ISTIO_INBOUND -i {name} -j RETURN" for name in spec.exclude_interfaces]
    if spec.inbound_ports is None:
        rules += [f"-A ISTIO_INBOUND -p tcp --dport {p} -j RETURN" for p in _excluded_inbound(spec)]
        rules.append("-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT")
    else:
        rules += [
            f"-A ISTIO_INBOUND -p tcp --dport {p} -j ISTIO_IN_REDIRECT" for p in spec.inbound_ports
        ]
    return rules


def _excluded_inbound(spec: CaptureSpec) -> list[int]:
    return list(dict.fromkeys(spec.inbound_exclude_ports))


def _output_rules(spec: CaptureSpec) -> list[str]:
    out = "-A ISTIO_OUTPUT"
    rules = [f"{out} -o {name} -j RETURN" for name in spec.exclude_interfaces]
    rules += [f"{out} -p tcp --dport {p} -j RETURN" for p in spec.outbound_exclude_ports]
    # Envoy's inbound forwarding binds 127.0.0.6: never capture it again.
    rules.append(f"{out} -o lo -s {mesh.INBOUND_PASSTHROUGH_IP}/32 -j RETURN")
    for match in [f"--uid-owner {u}" for u in spec.uids] + [f"--gid-owner {g}" for g in spec.gids]:
        # The proxy calling its own pod IP over lo is inbound traffic: send it through 15006.
        rules.append(f"{out} -o lo ! -d 127.0.0.1/32 -m owner {match} -j ISTIO_IN_REDIRECT")
        # The app talking to itself over lo stays direct; the proxy's own traffic is never captured.
        rules.append(f"{out} -o lo -m owner ! {match} -j RETURN")
        rules.append(f"{out} -m owner {match} -j RETURN")
    rules.append(f"{out} -d 127.0.0.1/32 -j RETURN")
    # Excluded CIDRs first, as istio-iptables: -x beats -q (the metadata server stays direct).
    rules += [f"{out} -d {cidr} -j RETURN" for cidr in spec.outbound_exclude_cidrs]
    rules += [f"{out} -p tcp --dport {p} -j ISTIO_REDIRECT" for p in spec.outbound_ports]
    if spec.outbound_cidrs is None:
        rules.append(f"{out} -j ISTIO_REDIRECT")
    else:
        rules += [f"{out} -d {cidr} -j ISTIO_REDIRECT" for cidr in spec.outbound_cidrs]
    return rules


def removal_of_existing(saved: str) -> list[str]:
    """`-D` lines for our jumps already in PREROUTING/OUTPUT (from `iptables-save -t nat`)."""
    return [
        "-D" + line[2:]
        for line in saved.splitlines()
        if line.startswith(("-A PREROUTING ", "-A OUTPUT ")) and "-j ISTIO_" in line
    ]


def has_net_admin() -> bool:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> _CAP_NET_ADMIN & 1)
    return False


def apply_rules(rules: str, restore: str = "iptables-restore") -> None:
    """Load `rules` in one iptables-restore transaction, replacing an earlier copy of ours."""
    binary = shutil.which(restore)
    save = shutil.which(restore.replace("-restore", "-save"))
    if binary is None or save is None:
        raise CaptureError(f"{restore} / iptables-save not found: install the iptables package")
    if not has_net_admin():  # root too: a container's root has only the capabilities it is given
        raise CaptureError(
            "needs NET_ADMIN: run the init container with securityContext.capabilities.add "
            "[NET_ADMIN, NET_RAW], as the injected istio-init has, or annotate the pod "
            "sidecar.istio.io/interceptionMode: NONE to run without traffic capture"
        )
    saved = _run([save, "-t", "nat"], "")
    removals = removal_of_existing(saved)
    if removals:  # our chains exist: drop the old jumps in the same transaction
        lines = rules.splitlines()
        declared = 1 + len(CHAINS)  # "*nat" and the chain declarations come first
        rules = "\n".join([*lines[:declared], *removals, *lines[declared:]]) + "\n"
    _run([binary, "--noflush"], rules)


def _run(command: Sequence[str], stdin: str) -> str:
    try:
        done = subprocess.run(
            command, input=stdin, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise CaptureError(f"{command[0]}: {error}") from None
    if done.returncode != 0:
        detail = done.stderr.strip() or done.stdout.strip()
        raise CaptureError(f"{os.path.basename(command[0])} failed: {detail}")
    return done.stdout
