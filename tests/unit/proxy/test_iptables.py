"""`mesh-webhooks iptables --dry-run`: golden rule sets for the injector's flag combinations."""

from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from tests.goldens import Golden
from webhooks import cli
from webhooks.inject.config import default_config
from webhooks.inject.pod import inject_pod
from webhooks.proxy import iptables

GOLDEN_DIR = Path(__file__).parent / "iptables"
DEFAULT = ["-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT"]

CASES = {
    # the injector's defaults
    "default": [*DEFAULT, "-i", "*", "-x", "", "-b", "*", "-d", "15090,15021,15020"],
    # traffic.sidecar.istio.io/excludeInboundPorts + excludeOutboundIPRanges
    "exclude-inbound-and-cidrs": [
        *DEFAULT, "-i", "*", "-x", "10.96.0.0/12,169.254.169.254/32",
        "-b", "*", "-d", "15090,15021,4,5,6,15020",
    ],
    # includeInboundPorts as a list: -d no longer applies
    "include-inbound-ports": [
        *DEFAULT, "-i", "*", "-x", "", "-b", "8080,9090", "-d", "15090,15021,15020",
    ],
    # includeOutboundIPRanges as a list, plus outbound port include/exclude
    "include-cidrs-and-ports": [
        *DEFAULT, "-i", "10.0.0.0/8,172.16.0.0/12", "-x", "10.1.0.0/16",
        "-b", "*", "-d", "15090,15021,15020", "-q", "3306,5432", "-o", "25,587",
    ],
    # no inbound capture (-b ""), no outbound capture (-i "")
    "capture-off": [*DEFAULT, "-i", "", "-x", "", "-b", "", "-d", "15090,15021,15020"],
    # excluded interfaces and an explicit gid
    "exclude-interfaces": [
        *DEFAULT, "-g", "1338", "-i", "*", "-x", "", "-b", "*",
        "-d", "15090,15021,15020", "-c", "eth1,net1",
    ],
}  # fmt: skip


def dry_run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["iptables", *args, "--dry-run"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", sorted(CASES))
def test_dry_run_matches_golden(
    case: str, golden: Golden, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = dry_run(CASES[case], capsys)
    assert code == 0, err
    golden.check_text(out, GOLDEN_DIR / f"{case}.rules")


def test_a_really_injected_pod_gives_a_valid_rule_set(capsys: pytest.CaptureFixture[str]) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    }
    injected = inject_pod(pod, default_config(), native=False).pod
    init = next(c for c in injected["spec"]["initContainers"] if c["name"] == "istio-init")
    code, out, err = dry_run(list(init["args"]), capsys)
    assert code == 0, err
    assert "-A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN" in out
    assert "-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN" in out
    assert out.rstrip().endswith("COMMIT")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-b", "80,http"], "-b: 'http' is not a port"),
        (["-d", "70000"], "-d: '70000' is not a port"),
        (["-x", "10.0.0.0/33"], "-x: '10.0.0.0/33' is not an IP range"),
        (["-p", "\u00b2"], "-p: '\u00b2' is not a port"),  # '²': isdigit(), but no int
        (["-b", "80,\u0668\u0660"], "-b: '\u0668\u0660' is not a port"),  # Arabic-Indic 80
        (["-z", "1" * 5000], "is not a port (1-65535)"),  # past int()'s digit limit
        (["-u", "proxy"], "-u: 'proxy' is not a numeric id"),
        (["-u", "\u0661\u0663\u0663\u0667"], "is not a numeric id"),  # Arabic-Indic 1337
        (["-g", "4294967295"], "-g: '4294967295' is not a numeric id"),
        (["-c", "eth0;reboot"], "-c: 'eth0;reboot' is not a network interface name"),
        (["-m", "TPROXY"], "interception mode 'TPROXY' is not supported"),
    ],
)
def test_bad_flags_get_a_clear_error(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = dry_run(args, capsys)
    assert (code, out) == (2, "")
    assert message in err


def test_unknown_flag_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["iptables", "--frobnicate"])
    assert exited.value.code == 2
    assert "unrecognized arguments: --frobnicate" in capsys.readouterr().err


def test_mode_none_applies_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["iptables", "-m", "NONE"]) == 0
    assert capsys.readouterr().out == ""


def test_missing_binary_is_a_clear_error() -> None:
    with pytest.raises(iptables.CaptureError, match="not found: install the iptables package"):
        iptables.apply_rules("*nat\nCOMMIT\n", restore="no-such-iptables-restore")


def test_rerun_removes_only_our_jumps() -> None:
    saved = "\n".join(
        [
            "*nat",
            ":PREROUTING ACCEPT [0:0]",
            "-A PREROUTING -p tcp -j ISTIO_INBOUND",
            "-A PREROUTING -p udp -j KUBE-SOMETHING",
            "-A OUTPUT -p tcp -j ISTIO_OUTPUT",
            "-A ISTIO_OUTPUT -j ISTIO_REDIRECT",
            "COMMIT",
        ]
    )
    assert iptables.removal_of_existing(saved) == [
        "-D PREROUTING -p tcp -j ISTIO_INBOUND",
        "-D OUTPUT -p tcp -j ISTIO_OUTPUT",
    ]


ports = st.lists(st.integers(1, 65535), min_size=1, max_size=6)


@given(excluded=ports, outbound_excluded=ports)
def test_every_excluded_port_returns_before_any_redirect(
    excluded: list[int], outbound_excluded: list[int]
) -> None:
    spec = iptables.CaptureSpec(
        inbound_exclude_ports=tuple(excluded), outbound_exclude_ports=tuple(outbound_excluded)
    )
    lines = iptables.build_rules(spec).splitlines()
    first_in_redirect = lines.index("-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT")
    for port in excluded:
        assert lines.index(f"-A ISTIO_INBOUND -p tcp --dport {port} -j RETURN") < first_in_redirect
    first_out_redirect = lines.index("-A ISTIO_OUTPUT -j ISTIO_REDIRECT")
    for port in outbound_excluded:
        rule = f"-A ISTIO_OUTPUT -p tcp --dport {port} -j RETURN"
        assert lines.index(rule) < first_out_redirect
    # the proxy's own traffic is never sent back to itself as outbound
    assert lines.index("-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN") < first_out_redirect


def test_outside_a_pod_nothing_is_applied_without_outside_pod(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Typed on a workstation, `mesh-webhooks iptables` would capture its TCP traffic."""
    applied: list[str] = []
    monkeypatch.setattr(iptables, "apply_rules", lambda rules, binary: applied.append(rules))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert cli.main(["iptables"]) == 2
    assert applied == []
    assert capsys.readouterr().err.startswith(
        "mesh-webhooks iptables: KUBERNETES_SERVICE_HOST is not set, so this is not a Kubernetes "
        "pod: refusing to install capture rules"
    )
    assert cli.main(["iptables", "--outside-pod"]) == 0
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    assert cli.main(["iptables"]) == 0
    assert len(applied) == 2
