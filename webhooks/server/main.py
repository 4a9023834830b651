"""The composition root: the one place that wires certificates, handlers, the app and uvicorn."""

import asyncio
import contextlib
import errno
import logging
import os
import socket
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
import uvloop

from webhooks import kube
from webhooks.admission.review import AdmissionHandler
from webhooks.certs.cluster import ClusterCerts, ClusterSettings
from webhooks.certs.failclosed import FailClosed, FailClosedSettings
from webhooks.inject import config as injection, handler as inject_handler
from webhooks.server import metrics
from webhooks.server.app import DEFAULT_MAX_BODY_BYTES, ErrorHook, create_app
from webhooks.server.tls import ReloadableTLS, ServingCert, watch_files
from webhooks.validate import handler as validate_handler, metrics as validate_metrics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 9443
    cert_file: Path | None = None
    key_file: Path | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    cert_poll_seconds: float = 2.0
    inject_config: Path | None = None  # None: the built-in default config
    native_sidecars: injection.NativeMode | None = None  # overrides the config's mode
    kubeconfig: Path | None = None  # to learn the cluster version outside self mode
    cluster: ClusterSettings | None = None  # self-managed TLS (`--cert-mode self`)
    fail_closed: FailClosedSettings | None = None  # file modes: self-test, then failurePolicy Fail


@dataclass(frozen=True)
class Admission:
    """The admission cores behind each path, and the work that keeps their config current."""

    handlers: dict[str, AdmissionHandler]
    error_hooks: dict[str, ErrorHook] = field(default_factory=dict)
    background: list[Coroutine[Any, Any, None]] = field(default_factory=list)


def _forcing_native(
    get_config: Callable[[], injection.InjectConfig], mode: injection.NativeMode
) -> Callable[[], injection.InjectConfig]:
    """The config in force with nativeSidecars overridden, copied once per config, not per pod."""
    source = get_config()
    forced = source.model_copy(update={"native_sidecars": mode})

    def get() -> injection.InjectConfig:
        nonlocal source, forced
        current = get_config()
        if current is not source:  # a reload swapped the config in force
            source, forced = current, current.model_copy(update={"native_sidecars": mode})
        return forced

    return get


def build_admission(settings: ServerSettings, cluster_version: tuple[int, int] | None) -> Admission:
    """Raises injection.ConfigError when the injection config file cannot be used."""
    background: list[Coroutine[Any, Any, None]] = []
    if settings.inject_config is None:
        default = injection.default_config()
        get_config: Callable[[], injection.InjectConfig] = lambda: default  # noqa: E731
    else:
        store = injection.ConfigStore(settings.inject_config)
        get_config = store.get
        background.append(store.watch())
    if settings.native_sidecars is not None:
        get_config = _forcing_native(get_config, settings.native_sidecars)
    handlers = {
        "/inject": inject_handler.make_handler(get_config, cluster_version),
        "/validate": validate_handler.handle,
    }
    error_hooks: dict[str, ErrorHook] = {"/validate": validate_metrics.record_http_error}
    return Admission(handlers, error_hooks, background)


def discover_cluster_version(settings: ServerSettings) -> tuple[int, int] | None:
    """Outside self mode the cluster is optional: ask it only when we can reach one."""
    if settings.kubeconfig is None and "KUBERNETES_SERVICE_HOST" not in os.environ:
        return None
    try:
        client = kube.Kube(kube.connect(settings.kubeconfig))
    except Exception as error:  # a missing or broken kubeconfig: run without the version
        logger.warning("no Kubernetes client, version unknown", extra={"error": str(error)})
        return None
    try:
        return kube.server_version(client.api)
    finally:
        client.close()


def _record_cert(cert: ServingCert) -> None:
    metrics.CERT_NOT_AFTER.set(cert.not_after.timestamp())
    metrics.CERT_RELOADS.inc()


def build_server(
    settings: ServerSettings,
    tls: ReloadableTLS,
    is_ready: Callable[[], bool],
    admission: Admission,
) -> uvicorn.Server:
    app = create_app(admission.handlers, is_ready, settings.max_body_bytes, admission.error_hooks)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ssl_context_factory=tls.uvicorn_factory(),
        loop="none",  # the loop is ours (run_on_uvloop); uvicorn sets one up only in Server.run
        http="httptools",
        lifespan="off",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return uvicorn.Server(config)


ALL_ADDRESSES = ""  # --host's default
# What binding "::" meets in a pod without IPv6: the family is compiled out or switched off
# (ipv6.disable=1), or the pod's interfaces have no IPv6 (net.ipv6.conf.all.disable_ipv6=1).
_NO_IPV6 = (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT)


def listening_socket(port: int) -> socket.socket:
    """One socket on every address: IPv6 and IPv4 (dual stack) where the pod has IPv6, so that
    an IPv6-only cluster's apiserver and kubelet reach the server; IPv4 only where it has not.
    uvloop's own binding of "" cannot do this: it fails where "::" cannot be bound."""
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError as error:
        if error.errno not in _NO_IPV6:
            raise
    else:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(("::", port))
            return sock
        except OSError as error:
            sock.close()
            if error.errno not in _NO_IPV6:
                raise
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("0.0.0.0", port))
    except OSError:
        sock.close()
        raise
    return sock


def run_on_uvloop(job: Coroutine[Any, Any, None]) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(job)


class BackgroundTaskDied(Exception):
    """A background task failed while serving; the server was stopped so the pod restarts."""


async def run_server(server: uvicorn.Server, background: list[Coroutine[Any, Any, None]]) -> None:
    """Serve until uvicorn is told to stop (SIGTERM/SIGINT), then cancel background work.

    A task that raises (or is cancelled by someone else) stops the server and this raises
    BackgroundTaskDied: a restarted pod beats one that stays Ready while, say, its certificate
    is never renewed again. A task that returns has finished its job (the self-test does)."""
    died: list[str] = []
    stopping = False

    def supervise(task: asyncio.Task[None]) -> None:
        if stopping or (not task.cancelled() and task.exception() is None):
            return
        error = None if task.cancelled() else task.exception()
        name = task.get_name()
        died.append(f"{name} ({'cancelled' if error is None else repr(error)})")
        logger.error(
            "background task died; stopping the server so the pod restarts",
            extra={"task": name},
            exc_info=error,
        )
        server.should_exit = True

    tasks = [
        asyncio.create_task(job, name=getattr(job, "__qualname__", None)) for job in background
    ]
    for task in tasks:
        task.add_done_callback(supervise)
    config = server.config
    sockets = [listening_socket(config.port)] if config.host == ALL_ADDRESSES else None
    try:
        await server.serve(sockets=sockets)
    finally:
        stopping = True
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if died:
        raise BackgroundTaskDied(f"background task died: {', '.join(died)}")


async def serve_files(
    settings: ServerSettings, extra_handlers: Mapping[str, AdmissionHandler] | None = None
) -> None:
    """Serve with a certificate pair from files, reloading it whenever the files change."""
    assert settings.cert_file is not None
    assert settings.key_file is not None
    version = await asyncio.to_thread(discover_cluster_version, settings)
    admission = build_admission(settings, version)
    tls = ReloadableTLS()
    tls.on_reload(_record_cert)
    try:
        tls.load_files(settings.cert_file, settings.key_file)
    except (OSError, ValueError) as error:
        logger.error("no usable serving certificate yet", extra={"error": str(error)})
    admission.handlers.update(extra_handlers or {})
    server = build_server(settings, tls, lambda: tls.loaded, admission)
    watcher = watch_files(tls, settings.cert_file, settings.key_file, settings.cert_poll_seconds)
    client = None
    background = [watcher, *admission.background]
    if settings.fail_closed is not None:  # raises KubeError if the credentials cannot be loaded
        client = kube.Kube(kube.connect(settings.fail_closed.kubeconfig))
        background += FailClosed(settings.fail_closed, client, lambda: tls.loaded).background()
    try:
        await run_server(server, background)
    finally:
        if client is not None:
            client.close()


async def serve_cluster(settings: ServerSettings) -> None:
    """Self mode: CA from the Secret, serving cert signed in memory, caBundles reconciled;
    ready only once the certificate is served and both configurations trust its CA."""
    assert settings.cluster is not None
    tls = ReloadableTLS()
    tls.on_reload(_record_cert)
    client = kube.Kube(kube.connect(settings.cluster.kubeconfig))
    certs = ClusterCerts(settings.cluster, tls, client)
    version = await asyncio.to_thread(kube.server_version, client.api)
    admission = build_admission(settings, version)
    server = build_server(settings, tls, certs.ready, admission)
    try:
        await run_server(server, [*certs.background(), *admission.background])
    finally:
        client.close()
