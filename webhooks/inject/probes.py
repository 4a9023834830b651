"""App probe rewriting: probes and lifecycle hooks go through the agent's status port, and the
originals are recorded for it in ISTIO_KUBE_APP_PROBERS (Istio's JSON format, keyed by path).

Unlike Istio, a probe is left alone when the kubelet can reach the app without Envoy in the way
(its port is not captured), when it names a `host`, and when its named port does not exist.
"""

from collections.abc import Callable, Iterable
from typing import Any

from webhooks import mesh, numbers
from webhooks.admission import jsontext
from webhooks.inject.patch import PodEdit

PROBES: tuple[tuple[str, mesh.ProbeKind], ...] = (
    ("readinessProbe", "readyz"),
    ("livenessProbe", "livez"),
    ("startupProbe", "startupz"),
)
HOOKS: tuple[tuple[str, mesh.LifecycleKind], ...] = (
    ("preStop", "prestopz"),
    ("postStart", "poststartz"),
)
PROBE_ACTIONS = mesh.PROBE_ACTIONS
HOOK_ACTIONS = ("httpGet", "tcpSocket")

Probers = dict[str, dict[str, Any]]
IsCaptured = Callable[[int], bool]


def _resolve_port(port: Any, container: dict[str, Any]) -> int | None:
    if isinstance(port, int) and not isinstance(port, bool):
        return port
    if isinstance(port, str):
        number = numbers.whole_number(port)
        if number is not None:
            return number
        ports = container.get("ports")
        for declared in ports if isinstance(ports, list) else ():
            if not isinstance(declared, dict) or declared.get("name") != port:
                continue
            number = declared.get("containerPort")
            if isinstance(number, int) and not isinstance(number, bool):
                return number
    return None


def _rewrite_one(
    edit: PodEdit,
    holder: dict[str, Any],
    pointer: str,
    actions: tuple[str, ...],
    path: str,
    container: dict[str, Any],
    status_port: int,
    is_captured: IsCaptured,
) -> dict[str, Any] | None:
    """Point one probe or hook at the agent; return its prober entry (the original action, with
    fields in Istio's order and the port resolved), or None if it is left alone."""
    for action in actions:
        handler = holder.get(action)
        if isinstance(handler, dict):
            break
    else:
        return None
    port = handler.get("port")
    if type(port) is not int:  # a name or a numeric string (an int is the common case)
        port = _resolve_port(port, container)
    if port is None or port == status_port or handler.get("host") or not is_captured(port):
        return None
    original: dict[str, Any]
    if action == "httpGet":
        original = (
            {"path": handler["path"], "port": port} if handler.get("path") else {"port": port}
        )
        rewritten = {**handler, "path": path, "port": status_port}
        if "scheme" in handler:
            original["scheme"] = handler["scheme"]
            rewritten["scheme"] = "HTTP"  # kubelet -> agent is plain HTTP; agent -> app: HTTPS
        if "httpHeaders" in handler:
            original["httpHeaders"] = handler["httpHeaders"]
    else:
        original = (
            {"port": port, "service": handler.get("service")}
            if action == "grpc"
            else {"port": port}
        )
        rewritten = {"path": path, "port": status_port}
        edit.delete(holder, pointer, action)
    edit.put(holder, pointer, "httpGet", rewritten)
    entry = {action: original}
    if isinstance(holder.get("timeoutSeconds"), int):
        entry["timeoutSeconds"] = holder["timeoutSeconds"]
    return entry


def rewrite(
    edit: PodEdit,
    containers: Iterable[tuple[str, dict[str, Any]]],
    status_port: int,
    is_captured: IsCaptured,
) -> Probers:
    """Rewrite the probes and hooks of these (copied) containers, given with their JSON Pointers."""
    probers: Probers = {}
    for pointer, container in containers:
        name = str(container.get("name", ""))
        for field, kind in PROBES:
            probe = container.get(field)
            if isinstance(probe, dict):
                path = mesh.app_probe_path(name, kind)
                entry = _rewrite_one(
                    edit, probe, f"{pointer}/{field}", PROBE_ACTIONS, path, container,
                    status_port, is_captured,
                )  # fmt: skip
                if entry is not None:
                    probers[path] = entry
        lifecycle = container.get("lifecycle")
        if not isinstance(lifecycle, dict):
            continue
        for field, hook_kind in HOOKS:
            hook = lifecycle.get(field)
            if isinstance(hook, dict):
                path = mesh.app_lifecycle_path(name, hook_kind)
                entry = _rewrite_one(
                    edit, hook, f"{pointer}/lifecycle/{field}", HOOK_ACTIONS, path, container,
                    status_port, is_captured,
                )  # fmt: skip
                if entry is not None:
                    probers[path] = entry
    return probers


def owned(container: Any) -> Any:
    """A copy of a container that `rewrite` and `restore` may change: the container, its probes,
    its lifecycle and hooks are new dicts; everything else stays shared with the original."""
    if not isinstance(container, dict):
        return container
    copy: dict[str, Any] | None = None
    for field, _ in PROBES:
        probe = container.get(field)
        if isinstance(probe, dict):
            copy = copy or dict(container)
            copy[field] = dict(probe)
    lifecycle = container.get("lifecycle")
    if isinstance(lifecycle, dict):
        copy = copy or dict(container)
        copy["lifecycle"] = {
            name: dict(hook) if isinstance(hook, dict) else hook for name, hook in lifecycle.items()
        }
    return container if copy is None else copy


def encode(probers: Probers) -> str:
    return jsontext.compact(dict(sorted(probers.items())))


_PROBE_FIELDS: dict[str, str] = {kind: field for field, kind in PROBES}
_HOOK_FIELDS: dict[str, str] = {kind: field for field, kind in HOOKS}
_KINDS = (*_PROBE_FIELDS, *_HOOK_FIELDS)


def _holder(container: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The probe or hook that a prober path's last segment (readyz, prestopz…) names."""
    if kind in _PROBE_FIELDS:
        holder = container.get(_PROBE_FIELDS[kind])
    else:
        lifecycle = container.get("lifecycle")
        holder = lifecycle.get(_HOOK_FIELDS[kind]) if isinstance(lifecycle, dict) else None
    return holder if isinstance(holder, dict) else None


def restore(containers: Iterable[dict[str, Any]], probers: dict[str, Any]) -> None:
    """Undo `rewrite` in place from a previous injection's ISTIO_KUBE_APP_PROBERS. A probe
    whose entry is missing or cannot be read stays on the agent (see `still_on_agent`)."""
    by_name = {container.get("name"): container for container in containers}
    for path, entry in probers.items():
        if not mesh.PROBE_PATH_PATTERN.match(path):
            continue
        _, _, name, kind = path.split("/")
        container = by_name.get(name)
        holder = _holder(container, kind) if container else None
        current = holder.get("httpGet") if holder else None
        if holder is None or not isinstance(current, dict) or current.get("path") != path:
            continue  # changed since we rewrote it: leave the user's version
        actions = entry if isinstance(entry, dict) else {}
        action = next((a for a in PROBE_ACTIONS if isinstance(actions.get(a), dict)), None)
        if action is None:
            continue
        del holder["httpGet"]
        holder[action] = {key: value for key, value in actions[action].items() if value is not None}


def still_on_agent(containers: Iterable[dict[str, Any]], status_port: int) -> str | None:
    """The agent path of the first probe or hook that still points at the agent on
    `status_port` (after `restore`), or None."""
    for container in containers:
        for kind in _KINDS:
            holder = _holder(container, kind)
            action = holder.get("httpGet") if holder else None
            if not isinstance(action, dict) or action.get("port") != status_port:
                continue
            path = action.get("path")
            if isinstance(path, str) and mesh.PROBE_PATH_PATTERN.match(path):
                return path
    return None
