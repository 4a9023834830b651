from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.kubeapi import FakeKubeAPI
from webhooks import kube


@pytest.fixture
def fake_api() -> Iterator[FakeKubeAPI]:
    with FakeKubeAPI() as api:
        yield api


@pytest.fixture
def client(fake_api: FakeKubeAPI, tmp_path: Path) -> Iterator[kube.Kube]:
    """The real kubernetes client, talking HTTP to the fake."""
    api = kube.connect(fake_api.write_kubeconfig(tmp_path / "kubeconfig"))
    yield kube.Kube(api)
    api.close()
