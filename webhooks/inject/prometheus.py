"""Prometheus merge: the pod's scrape annotations move into ISTIO_PROMETHEUS_ANNOTATIONS for the
agent, and Prometheus is pointed at the agent's merged endpoint instead."""

import functools
import re
from typing import Any

from webhooks import mesh, numbers
from webhooks.admission import jsontext
from webhooks.inject import formats
from webhooks.inject.annotations import AnnotationError
from webhooks.inject.patch import ANNOTATIONS, PodEdit

SCRAPE = "prometheus.io/scrape"
PATH = "prometheus.io/path"
PORT = "prometheus.io/port"
SCRAPE_TARGETS = "prometheus.istio.io/scrape-targets"
_NON_LABEL = re.compile(r"[^a-zA-Z0-9_]")
_MERGED = frozenset({SCRAPE, PATH, PORT})  # the keys merge sets: what it does not set goes
_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})


def _sanitize(key: str) -> str:
    """Prometheus' label-name sanitising: prometheus.io/scrape and prometheus-io.scrape match."""
    return _NON_LABEL.sub("_", key)


_KEYS = {_sanitize(key): key for key in (SCRAPE, PATH, PORT, SCRAPE_TARGETS)}


@functools.lru_cache(maxsize=256)
def _canonical(key: str) -> str | None:
    return _KEYS.get(_sanitize(key))


def _find(annotations: dict[str, str]) -> dict[str, list[str]]:
    """Canonical key -> the pod's keys that mean it, in the pod's order."""
    found: dict[str, list[str]] = {}
    for key in annotations:
        # Sanitising keeps letters, so only these keys can match; the cache stays theirs.
        canonical = _canonical(key) if key.startswith("prometheus") else None
        if canonical is not None:
            if canonical in found:
                found[canonical].append(key)
            else:
                found[canonical] = [key]
    return found


def _check_port(key: str, value: str, port: str, status_port: int) -> None:
    number = numbers.whole_number(port) or 0
    if not 0 < number < 65536 or number in mesh.RESERVED_PORTS or number == status_port:
        raise AnnotationError(key, value, f"{port!r} is not a free port for the app's metrics")


def _targets(value: str, status_port: int) -> list[dict[str, str]]:
    targets = []
    for item in formats.split_list(value):
        port, _, path = item.partition(":")
        _check_port(SCRAPE_TARGETS, value, port, status_port)
        targets.append({"port": port, "path": path})
    return targets


def merge(edit: PodEdit, annotations: dict[str, str], status_port: int) -> str | None:
    """Rewrite the pod's `annotations`; return the env value for the agent, or None. A pod that
    turns scraping off (prometheus.io/scrape: "false") is left alone."""
    found = _find(annotations)
    for key in found.get(SCRAPE, ()):
        if annotations[key] in _FALSE:
            return None
    values = {canonical: annotations[keys[0]] for canonical, keys in found.items()}
    port, status = values.get(PORT, ""), str(status_port)
    if port == status:
        return None  # already pointing at the agent
    if port:
        _check_port(found[PORT][0], port, port, status_port)
    config: dict[str, Any] = {"scrape": values.get(SCRAPE, ""), "path": values.get(PATH, "")}
    config["port"] = port
    targets = _targets(values[SCRAPE_TARGETS], status_port) if SCRAPE_TARGETS in values else []
    if targets:
        config.update(port=targets[0]["port"], path=targets[0]["path"], targets=targets)
    for keys in found.values():
        for key in keys:
            if key not in _MERGED:
                edit.delete(annotations, ANNOTATIONS, key)
    edit.put(annotations, ANNOTATIONS, PORT, status)
    edit.put(annotations, ANNOTATIONS, PATH, mesh.PROMETHEUS_MERGED_PATH)
    edit.put(annotations, ANNOTATIONS, SCRAPE, "true")
    if not (config["scrape"] or config["path"] or config["port"]):
        return None
    return jsontext.compact(config)


_CONFIG_KEYS = (("scrape", SCRAPE), ("path", PATH), ("port", PORT))


def merged(annotations: dict[str, str], status_port: int) -> bool:
    """Whether the pod's scrape annotations point at the agent, as `merge` left them."""
    return annotations.get(PORT) == str(status_port)


def restore(annotations: dict[str, str], config: dict[str, Any] | None) -> None:
    """Undo `merge` in place (see `merged`), given a previous injection's
    ISTIO_PROMETHEUS_ANNOTATIONS (None if it had none: the pod had no scrape annotations)."""
    for key in (key for keys in _find(annotations).values() for key in keys):
        del annotations[key]
    config = config or {}
    for key, full in _CONFIG_KEYS:
        if isinstance(config.get(key), str) and config[key]:
            annotations[full] = config[key]
    targets = config.get("targets")
    if isinstance(targets, list) and targets:
        annotations[SCRAPE_TARGETS] = ",".join(
            f"{t.get('port')}:{t.get('path')}" if t.get("path") else str(t.get("port"))
            for t in targets
            if isinstance(t, dict)
        )
