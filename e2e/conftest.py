"""Session fixtures: one real control plane (etcd + kube-apiserver) shared by all e2e tests.

With E2E_KUBECONFIG set (e2e/kind/run.sh), the mesh scenarios run against that cluster and the
release installed there instead; fixtures that need a local server skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e import mesh
from e2e.kubectl import Kubectl
from e2e.local_control_plane import (
    BIN_DIR,
    ControlPlane,
    binaries_unavailable_reason,
    running_control_plane,
)

EXISTING_CLUSTER = os.environ.get("E2E_KUBECONFIG")


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A running etcd + kube-apiserver for the whole session, stopped at its end.

    Skips when the binaries are not built; under CI=true that is a failure instead, so a
    broken build can never pass CI by skipping every e2e test.
    """
    reason = binaries_unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(f"!!! {reason} !!!")
    with running_control_plane(tmp_path_factory.mktemp("controlplane")) as plane:
        yield plane


@pytest.fixture(scope="session")
def kubectl(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    """kubectl as a system:masters admin of the session's control plane (or E2E_KUBECONFIG)."""
    if EXISTING_CLUSTER:
        binary = shutil.which("kubectl")
        if binary is None:
            pytest.fail("E2E_KUBECONFIG is set but there is no kubectl on PATH", pytrace=False)
        return Kubectl(
            binary=Path(binary),
            kubeconfig=Path(EXISTING_CLUSTER),
            cache_dir=tmp_path_factory.mktemp("kubectl-cache"),
        )
    control_plane: ControlPlane = request.getfixturevalue("control_plane")
    return Kubectl(
        binary=BIN_DIR / "kubectl",
        kubeconfig=control_plane.kubeconfig,
        cache_dir=control_plane.workdir / "kubectl-cache",
    )


def local_only(what: str) -> None:
    """Skip under E2E_KUBECONFIG: `what` needs a server started by the tests."""
    if EXISTING_CLUSTER:
        pytest.skip(f"{what} needs a local webhook server; not run against E2E_KUBECONFIG")


@pytest.fixture(scope="session")
def mesh_crds(kubectl: Kubectl) -> None:
    """The chart's CRDs, Established (an existing cluster has them from `helm install`)."""
    if not EXISTING_CLUSTER:
        mesh.install_crds(kubectl)


@pytest.fixture(scope="session")
def mesh_server(
    kubectl: Kubectl, mesh_crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[mesh.MeshServer | None]:
    """The default-revision release, served and validating; None on an existing cluster."""
    probe_namespace = mesh.unique_namespace(kubectl, "probe")
    if EXISTING_CLUSTER:
        mesh.wait_until_validating(kubectl, probe_namespace)
        yield None
        return
    with mesh.running_release(kubectl, tmp_path_factory.mktemp("mesh")) as server:
        mesh.wait_until_validating(kubectl, probe_namespace)
        yield server
