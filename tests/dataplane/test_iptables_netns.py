"""`mesh-webhooks iptables` for real, as root, inside a network namespace this test creates
(`unshare -n`): the host's own nat table is never touched."""

import sys

import pytest

from tests.dataplane.podsim import ROOT, require_root_and_tools, run

pytestmark = pytest.mark.netns

ARGS = ["-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-b", "*",
        "-d", "15090,15021,15020"]  # fmt: skip
# As in an init container, where the kubelet sets KUBERNETES_SERVICE_HOST.
IPTABLES = ["env", "KUBERNETES_SERVICE_HOST=10.96.0.1", sys.executable, "-m", "webhooks",
            "iptables", *ARGS]  # fmt: skip


@pytest.fixture(autouse=True)
def _root() -> None:
    require_root_and_tools(
        ("unshare", "setpriv", "iptables-restore", "iptables-save"),
        "applying iptables rules needs root (a private network namespace via unshare -n)",
    )


def in_new_netns(*command: str) -> list[str]:
    return ["unshare", "--net", *command]


def test_root_without_net_admin_gets_a_clear_error() -> None:
    """A container's root has only the capabilities it is given: euid 0 proves nothing."""
    drop = ["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin"]
    done = run(in_new_netns(*drop, *IPTABLES), check=False, cwd=ROOT)
    assert done.returncode == 2, done
    assert done.stderr == (
        "mesh-webhooks iptables: needs NET_ADMIN: run the init container with "
        "securityContext.capabilities.add [NET_ADMIN, NET_RAW], as the injected istio-init "
        "has, or annotate the pod sidecar.istio.io/interceptionMode: NONE to run without "
        "traffic capture\n"
    )


def test_rules_are_applied_once_even_when_run_twice() -> None:
    script = '"$@" && "$@" && iptables-save -t nat'
    done = run(in_new_netns("sh", "-c", script, "sh", *IPTABLES), check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    saved = done.stdout.splitlines()
    assert saved.count("-A OUTPUT -p tcp -j ISTIO_OUTPUT") == 1
    assert saved.count("-A PREROUTING -p tcp -j ISTIO_INBOUND") == 1
    assert "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001" in saved
    assert "-A ISTIO_INBOUND -p tcp -m tcp --dport 15020 -j RETURN" in saved


def test_outside_a_pod_the_rules_are_refused_and_the_table_is_untouched() -> None:
    command = [sys.executable, "-m", "webhooks", "iptables", *ARGS]
    script = '"$@"; echo "exit $?"; iptables-save -t nat'
    done = run(
        in_new_netns("env", "-u", "KUBERNETES_SERVICE_HOST", "sh", "-c", script, "sh", *command),
        check=False,
        cwd=ROOT,
    )
    assert "exit 2" in done.stdout, done
    assert "ISTIO" not in done.stdout
    assert "is not set, so this is not a Kubernetes pod" in done.stderr
