"""The background loops outlive unexpected errors, and `run_server` stops when a task dies."""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from tests import servers
from webhooks import kube
from webhooks.certs import cluster, issuing, metrics, rotation, selftest
from webhooks.server import main
from webhooks.server.tls import ReloadableTLS

CA = issuing.create_ca("loops CA")


async def until(check: Callable[[], bool], job: Coroutine[Any, Any, None], limit: float) -> None:
    """Run `job` until `check()` holds (then cancel it); fail after `limit` s."""
    task = asyncio.ensure_future(job)
    try:
        async with asyncio.timeout(limit):
            while not check():
                assert not task.done(), f"the loop ended: {task}"
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def bug_logged(caplog: pytest.LogCaptureFixture) -> bool:
    return any(
        record.exc_info and isinstance(record.exc_info[1], RuntimeError)
        for record in caplog.records
    )


class FlakyRotator(rotation.ServingCertRotator):
    checks = 0

    def check(self) -> bool:
        self.checks += 1
        if self.checks == 1:
            raise RuntimeError("boom")
        return super().check()


def test_serving_cert_loop_survives_an_unexpected_error(caplog: pytest.LogCaptureFixture) -> None:
    rotator = FlakyRotator(ReloadableTLS(), ["127.0.0.1"])
    rotator.use_ca(CA)
    asyncio.run(until(lambda: rotator.checks >= 3, rotation.keep_fresh(rotator, 0.01), 5))
    assert bug_logged(caplog)  # with its traceback: it is a bug, not an outage


def test_ca_loop_survives_an_unexpected_error(
    client: kube.Kube, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = cluster.ClusterSettings("ns", "svc", "svc-ca", ca_check_seconds=0.01)
    tls = ReloadableTLS()
    certs = cluster.ClusterCerts(settings, tls, client)
    real_sync, calls = certs.store.sync, []

    def flaky_sync() -> issuing.KeyPair:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return real_sync()

    monkeypatch.setattr(certs.store, "sync", flaky_sync)
    asyncio.run(until(lambda: tls.loaded, certs._keep_ca(), 5))
    assert len(calls) >= 2
    assert certs.current_ca() is not None
    assert bug_logged(caplog)


def test_self_test_loop_survives_an_unexpected_error(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[int] = []

    def flaky_run(client: kube.Kube, namespace: str, revision: str) -> selftest.Verdict:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("boom")
        return selftest.Verdict(True, "denied")

    monkeypatch.setattr(selftest, "run", flaky_run)
    errors_before = metrics.SELF_TEST_RUNS.labels("error")._value.get()
    passed: list[bool] = []
    job = selftest.keep_testing(None, "ns", "default", lambda: True, lambda: passed.append(True))  # type: ignore[arg-type]
    asyncio.run(asyncio.wait_for(job, 5))  # returns once passed
    assert passed == [True]
    assert len(runs) == 2
    assert metrics.SELF_TEST_RUNS.labels("error")._value.get() == errors_before + 1
    assert bug_logged(caplog)


def make_server() -> tuple[main.uvicorn.Server, ReloadableTLS]:
    tls = ReloadableTLS()
    leaf = issuing.issue_serving_cert(CA, ["127.0.0.1"])
    tls.load_pem(leaf.cert_pem, leaf.key_pem)
    settings = main.ServerSettings(port=servers.free_port())
    return main.build_server(settings, tls, lambda: True, main.Admission({})), tls


def test_a_dying_background_task_stops_the_server(caplog: pytest.LogCaptureFixture) -> None:
    server, _ = make_server()
    cancelled: list[bool] = []

    async def dies() -> None:
        await asyncio.sleep(0.3)
        raise RuntimeError("boom")

    async def finishes() -> None:  # a task that is done (like the passed self-test) is fine
        return

    async def runs_forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def scenario() -> None:
        with pytest.raises(main.BackgroundTaskDied, match=r"dies.*RuntimeError\('boom'\)"):
            await main.run_server(server, [finishes(), dies(), runs_forever()])

    asyncio.run(asyncio.wait_for(scenario(), 15))
    assert server.should_exit
    assert cancelled == [True]
    [record] = [r for r in caplog.records if "background task died" in r.getMessage()]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


def test_a_normal_stop_is_not_a_death() -> None:
    server, _ = make_server()

    async def stops_the_server() -> None:  # what SIGTERM does
        await asyncio.sleep(0.3)
        server.should_exit = True
        await asyncio.Event().wait()

    asyncio.run(asyncio.wait_for(main.run_server(server, [stops_the_server()]), 15))
