"""The whole mutation of one pod: strip a previous injection, add the sidecar, rewrite probes and
Prometheus annotations, record what was added. The input is never modified, and the injected
pod shares every subtree that injection leaves alone with it, and the sidecar parts with other
pods (sidecar.parts): treat all of them as read-only."""

from collections.abc import Mapping
from typing import Any, NamedTuple

from webhooks import mesh, yamlio
from webhooks.inject import metadata, probes, prometheus, sidecar
from webhooks.inject.annotations import (
    INJECTED_VOLUMES,
    USER_VOLUME,
    AnnotationError,
    InjectionError,
    Settings,
    parse_settings,
)
from webhooks.inject.config import InjectConfig
from webhooks.inject.patch import Operation, PodEdit, make_patch
from webhooks.proxy import proxy_config

INJECTED = frozenset({mesh.PROXY_CONTAINER, mesh.INIT_CONTAINER})


class Injection(NamedTuple):  # a tuple: built for every pod, and a tuple is built fastest
    pod: dict[str, Any]
    patch: list[Operation]  # applied to the request's pod, gives `pod`
    settings: Settings  # its warnings: what the pod asked for that is not implemented


_UNRECORDED = f"but no {mesh.STATUS_ANNOTATION} annotation"
_UNLISTED = f"that its {mesh.STATUS_ANNOTATION} annotation does not list"


def _containers(spec: dict[str, Any], field: str, unlisted: str = "") -> list[dict[str, Any]]:
    """spec.<field>, checked. `unlisted`: our names must not be there, and why (_UNRECORDED,
    _UNLISTED); a second istio-proxy or istio-init would break the pod."""
    containers = spec.get(field)
    if containers is None:
        return []
    if not isinstance(containers, list):
        raise InjectionError(f"pod spec.{field} must be a list of containers")
    for container in containers:  # one pass for every check: this runs for every pod
        if not isinstance(container, dict):
            raise InjectionError(f"pod spec.{field} must be a list of containers")
        name = container.get("name")
        if not isinstance(name, str | None):
            raise InjectionError(f"pod spec.{field}: a container name must be a string")
        if unlisted and name in INJECTED:
            raise InjectionError(
                f"pod already has a container named {name!r} in "
                f"spec.{field} {unlisted}; overriding the injected containers is not supported"
            )
    return containers


def _env_entry(proxy: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    entries = (proxy or {}).get("env")
    for env in entries if isinstance(entries, list) else ():
        if isinstance(env, dict) and env.get("name") == name:
            return env
    return None


def _previous_status_port(proxy: dict[str, Any] | None, default: int) -> int:
    """The status port the previous injection pointed probes and Prometheus at, read from its
    PROXY_CONFIG as its agent read it (the pod's or the config's may have changed since);
    `default` where there is none, or one the agent could not have started with."""
    env = _env_entry(proxy, mesh.PROXY_CONFIG_ENV)
    if env is None:
        return default
    try:
        return proxy_config.parse(str(env.get("value", ""))).status_port
    except proxy_config.ProxyConfigError:
        return default


def _previous_record(proxy: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    """The JSON object that a previous injection left in the proxy's env `name`, or None if
    there is no such entry. One that cannot be read is refused: what it recorded could not be
    undone, and injecting again over it would lose the user's probes or scrape settings."""
    env = _env_entry(proxy, name)
    if env is None:
        return None
    try:
        record = yamlio.load_json(str(env.get("value", "")))
    except yamlio.NestedTooDeeply:
        why = "nested too deeply"
    except ValueError as error:
        why = str(error)
    else:
        if isinstance(record, dict):
            return record
        why = "not a JSON object"
    raise InjectionError(
        f"the previous injection's {mesh.PROXY_CONTAINER} env {name} cannot be read ({why}), "
        "so what it rewrote cannot be restored"
    )


def strip(pod: dict[str, Any], status_port: int) -> None:
    """Undo a previous injection in place, using what its status annotation lists."""
    annotations = pod["metadata"].get("annotations") or {}
    record = metadata.parse_status(annotations.pop(mesh.STATUS_ANNOTATION))
    spec = pod["spec"]
    added = set(record.get("initContainers", ())) | set(record.get("containers", ()))
    every = [*_containers(spec, "initContainers"), *_containers(spec, "containers")]
    proxy = next((c for c in every if c.get("name") == mesh.PROXY_CONTAINER), None)
    proxy = proxy if mesh.PROXY_CONTAINER in added else None
    for field in ("initContainers", "containers", "volumes"):
        names = added if field != "volumes" else set(record.get("volumes", ()))
        kept = [
            item
            for item in spec.get(field) or ()
            if not isinstance(item, dict) or item.get("name") not in names
        ]
        if kept or field == "containers":
            spec[field] = kept
        else:
            spec.pop(field, None)
    _containers(spec, "initContainers", _UNLISTED)  # what the record missed is still there
    _containers(spec, "containers", _UNLISTED)
    previous_port = _previous_status_port(proxy, status_port)
    containers = [*spec.get("initContainers", ()), *spec["containers"]]
    probers = _previous_record(proxy, mesh.APP_PROBERS_ENV)
    if probers is not None:
        probes.restore(containers, probers)
    # Injected again, a probe still on the agent would have nothing behind it: never Ready.
    if (path := probes.still_on_agent(containers, previous_port)) is not None:
        raise InjectionError(
            f"the previous injection's {mesh.PROXY_CONTAINER} env {mesh.APP_PROBERS_ENV} has "
            f"no readable probe for {path}, so it cannot be restored"
        )
    if prometheus.merged(annotations, previous_port):  # else changed since: the user's now
        prometheus.restore(annotations, _previous_record(proxy, mesh.PROMETHEUS_ANNOTATIONS_ENV))


def _check_volumes(spec: dict[str, Any], parts: sidecar.Parts, annotations: dict[str, str]) -> None:
    """The volumes injection adds must not be in the pod already: a second one of a name makes
    the pod invalid. (A previous injection's were stripped by then.)"""
    for volume in spec.get("volumes") or ():
        name = volume.get("name") if isinstance(volume, dict) else None
        if name not in parts.volume_names:
            continue
        if name in INJECTED_VOLUMES:
            raise InjectionError(
                f"pod already has a volume named {name!r}, which the injector adds; "
                "overriding the injected volumes is not supported"
            )
        value = annotations[USER_VOLUME]
        raise AnnotationError(USER_VOLUME, value, f"volume {name!r} is already in the pod")


def _place(
    edit: PodEdit,
    spec: dict[str, Any],
    parts: sidecar.Parts,
    proxy: dict[str, Any],
    settings: Settings,
) -> None:
    """Add istio-init and istio-proxy in the right order (the order parts.status records)."""
    init = [parts.init] if parts.init is not None else []
    if settings.native:
        edit.insert(spec, "/spec", "initContainers", 0, [*init, proxy])
        return
    edit.insert(spec, "/spec", "initContainers", None, init)
    edit.insert(spec, "/spec", "containers", 0 if settings.hold_application else None, [proxy])


def _probe_targets(spec: dict[str, Any], native: bool) -> list[tuple[str, dict[str, Any]]]:
    """App containers, and in the native layout user native sidecars (init containers with
    restartPolicy Always), with their JSON Pointers. In the classic layout the agent starts
    after every init container, so pointing a native sidecar's startupProbe or postStart hook
    at it would deadlock the pod."""
    targets = []
    if native:
        for index, container in enumerate(spec.get("initContainers") or ()):
            if container.get("restartPolicy") == "Always" and container.get("name") not in INJECTED:
                targets.append((f"/spec/initContainers/{index}", container))
    for index, container in enumerate(spec.get("containers") or ()):
        if container.get("name") not in INJECTED:
            targets.append((f"/spec/containers/{index}", container))
    return targets


def _rewrite(
    edit: PodEdit,
    spec: dict[str, Any],
    annotations: dict[str, str],
    settings: Settings,
    parts: sidecar.Parts,
) -> list[dict[str, Any]]:
    """Prometheus merge, then probe rewriting; return the env entries for the proxy."""
    env: list[dict[str, Any]] = []
    if settings.merge_metrics:
        encoded = prometheus.merge(edit, annotations, settings.status_port)
        if encoded is not None:
            env.append({"name": mesh.PROMETHEUS_ANNOTATIONS_ENV, "value": encoded})
    if settings.rewrite_probes:
        probers = probes.rewrite(
            edit, _probe_targets(spec, settings.native), settings.status_port, parts.captures
        )
        if probers:
            env.append({"name": mesh.APP_PROBERS_ENV, "value": probes.encode(probers)})
    return env


def _string_map(value: Any, field: str) -> dict[str, str]:
    """A copy of metadata.labels or .annotations, checked: every value a string (keys are, in
    JSON; the offline command turns YAML's other keys into strings first)."""
    if not isinstance(value, dict):
        raise InjectionError(f"pod metadata.{field} must map names to strings")
    for item in value.values():  # a loop, not all(): this runs for every pod
        if not isinstance(item, str):
            raise InjectionError(f"pod metadata.{field} must map names to strings")
    return dict(value)


def _owned(
    pod: Mapping[str, Any], edit: PodEdit
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A checked copy of the pod that injection may change, with its metadata and spec. Only the
    parts it changes are copied (the pod, metadata, labels, annotations, spec, container lists,
    probes and hooks); the rest is shared with the request, which lets the diff skip it by
    identity."""
    injected = dict(pod)
    meta, spec = injected.get("metadata"), injected.get("spec")
    if not isinstance(spec, dict):
        raise InjectionError("pod has no metadata or no spec")
    if isinstance(meta, dict):
        meta = injected["metadata"] = dict(meta)
    elif meta is None:
        meta = edit.mapping(injected, "", "metadata")
    else:
        raise InjectionError("pod has no metadata or no spec")
    labels, annotations = meta.get("labels"), meta.get("annotations")
    if labels is not None:
        meta["labels"] = _string_map(labels, "labels")
    if annotations is not None:
        meta["annotations"] = annotations = _string_map(annotations, "annotations")
    spec = injected["spec"] = dict(spec)
    if not isinstance(spec.get("volumes"), list | None):
        raise InjectionError("pod spec.volumes must be a list of volumes")
    # A re-injection checks the names once the previous injection is stripped (see `strip`).
    unlisted = "" if annotations and mesh.STATUS_ANNOTATION in annotations else _UNRECORDED
    for field in ("initContainers", "containers"):
        if spec.get(field) is not None:
            spec[field] = [probes.owned(c) for c in _containers(spec, field, unlisted)]
    return injected, meta, spec


def inject_pod(
    pod: Mapping[str, Any], config: InjectConfig, native: bool, workload: str = ""
) -> Injection:
    """`native` is the cluster-wide layout (see config.resolve_native_sidecars); `workload`
    names the owner of a pod template that has no name of its own."""
    edit = PodEdit()
    injected, meta, spec = _owned(pod, edit)
    annotations: dict[str, str] = edit.mapping(meta, "/metadata", "annotations")
    settings = parse_settings(annotations, config, native)
    reinjection = mesh.STATUS_ANNOTATION in annotations
    if reinjection:
        strip(injected, settings.status_port)
    parts = sidecar.parts(config, settings)
    proxy = parts.proxy_with(_rewrite(edit, spec, annotations, settings, parts))
    _place(edit, spec, parts, proxy, settings)
    _check_volumes(spec, parts, annotations)
    edit.insert(spec, "/spec", "volumes", None, parts.volumes)
    first_app = None
    for container in spec.get("containers") or ():
        if container.get("name") not in INJECTED:
            first_app = container.get("name")
            break
    metadata.apply(edit, meta, config.revision, first_app, parts.status, workload)
    # `strip` undid the previous injection outside the record, so a re-injection (a rare path:
    # reinvocation, or a pod injected offline) is diffed; unchanged, its patch is empty.
    patch = make_patch(pod, injected) if reinjection else edit.operations
    return Injection(injected, patch, settings)
