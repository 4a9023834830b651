"""Kinds: every document of Istio's validation dataset is accepted by `kubectl apply`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from e2e import mesh
from e2e.kubectl import Kubectl

pytestmark = pytest.mark.e2e

DATASET = mesh.ROOT.parent / "shared" / "corpus" / "istio" / "dataset"
FILES = sorted(DATASET.glob("*.yaml"))


@pytest.fixture(scope="module")
def namespace(kubectl: Kubectl, mesh_server: mesh.MeshServer | None) -> str:
    return mesh.unique_namespace(kubectl, "kinds")


def test_the_dataset_is_there() -> None:
    """An empty parameter list would skip every case below without a word."""
    assert len(FILES) == 33, f"expected Istio's 33 dataset files in {DATASET}"


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_dataset_document_is_accepted_and_stored(
    kubectl: Kubectl, namespace: str, path: Path
) -> None:
    (document,) = mesh.load_documents(path)

    result = kubectl("apply", f"--namespace={namespace}", "-f", str(path))

    assert result.returncode == 0, result.stderr
    assert "created" in result.stdout or "configured" in result.stdout
    if document["kind"] != "EnvoyFilter":  # the only kind with a warning, as in Istio
        assert "Warning" not in result.stderr
    stored = kubectl.get_json(
        f"{document['kind'].lower()}.{document['apiVersion'].split('/')[0]}",
        document["metadata"]["name"],
        f"--namespace={namespace}",
    )
    assert stored["spec"] == json.loads(json.dumps(document["spec"]))  # as JSON: int keys too
