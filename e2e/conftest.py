"""Session fixtures: one real control plane (etcd + kube-apiserver) shared by all e2e tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from e2e.kubectl import Kubectl
from e2e.local_control_plane import (
    BIN_DIR,
    ControlPlane,
    binaries_unavailable_reason,
    running_control_plane,
)


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
def kubectl(control_plane: ControlPlane) -> Kubectl:
    """kubectl bound to the session's control plane as a system:masters admin."""
    return Kubectl(
        binary=BIN_DIR / "kubectl",
        kubeconfig=control_plane.kubeconfig,
        cache_dir=control_plane.workdir / "kubectl-cache",
    )
