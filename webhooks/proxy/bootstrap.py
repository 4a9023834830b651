"""The Envoy bootstrap: the packaged static template plus this pod's identity, rendered at start.

The template is `bootstrap.yaml` next to this module, or the bootstrap ConfigMap's copy when one
is mounted. Rendering never edits the template; it returns a new dict for one pod.
"""

import copy
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from webhooks import mesh, yamlio

logger = logging.getLogger(__name__)

BOOTSTRAP_FILE = "bootstrap.yaml"
RENDERED_FILE = "envoy-rev.json"  # Envoy picks its parser by extension: .json is JSON
WORKLOAD_NAME_ENV = "ISTIO_META_WORKLOAD_NAME"


class BootstrapError(Exception):
    """A bootstrap template that cannot be used, with a message for the user."""


@dataclass(frozen=True)
class PodIdentity:
    name: str = "unknown"
    namespace: str = "default"
    ip: str = ""
    service_account: str = ""
    node_name: str = ""
    workload: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def node_id(self) -> str:
        return f"{self.name}.{self.namespace}"

    @property
    def workload_name(self) -> str:
        named = next((self.labels[k] for k in mesh.WORKLOAD_NAME_LABELS if self.labels.get(k)), "")
        return named or self.workload or self.name

    @property
    def cluster(self) -> str:
        return f"{self.workload_name}.{self.namespace}"


def parse_downward_file(text: str) -> dict[str, str]:
    """Parse a downward-API labels/annotations file: one `key="go-quoted value"` per line."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, quoted = line.partition("=")
        if not sep or not key:
            continue
        result[key] = _unquote(quoted)
    return result


def _unquote(quoted: str) -> str:
    # Go's strconv.Quote output is a JSON string for printable text. Only a value that starts
    # like one is decoded: json.loads on anything else (`[[[[...`) could be a number, a list, or
    # recurse past Python's limit; decoding a string cannot.
    if quoted.startswith('"'):
        try:
            return str(json.loads(quoted))
        except ValueError:  # not Go's quoting after all (`"a" b`): keep the text
            pass
    return quoted.strip('"')


def read_pod_identity(env: Mapping[str, str], podinfo_dir: Path) -> PodIdentity:
    labels_file = podinfo_dir / "labels"
    try:
        labels = parse_downward_file(labels_file.read_text(encoding="utf-8"))
    except OSError:  # no downward-API volume: no labels
        labels = {}
    except UnicodeDecodeError as error:
        # The kubelet writes UTF-8; a file that is not is ignored so the pod still gets a proxy.
        logger.warning(
            "pod labels ignored: the file is not UTF-8",
            extra={"path": str(labels_file), "error": str(error)},
        )
        labels = {}
    return PodIdentity(
        name=env.get(mesh.POD_NAME_ENV) or "unknown",
        namespace=env.get(mesh.POD_NAMESPACE_ENV) or "default",
        ip=env.get(mesh.INSTANCE_IP_ENV, ""),
        service_account=env.get(mesh.SERVICE_ACCOUNT_ENV, ""),
        node_name=env.get(mesh.NODE_NAME_ENV, ""),
        workload=env.get(WORKLOAD_NAME_ENV, ""),
        labels=labels,
    )


def packaged_template() -> dict[str, Any]:
    text = resources.files("webhooks.proxy").joinpath(BOOTSTRAP_FILE).read_text()
    return _as_mapping(yamlio.safe_load(text), "packaged bootstrap")


def load_template(override_dir: Path | None) -> dict[str, Any]:
    """The ConfigMap's bootstrap.yaml when it is present and sound, else the packaged one."""
    override = override_dir / BOOTSTRAP_FILE if override_dir else None
    if override is None or not override.is_file():
        return packaged_template()
    try:
        return _as_mapping(yamlio.safe_load(override.read_text(encoding="utf-8")), str(override))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, BootstrapError) as error:
        # Refuse the bad file and keep the packaged bootstrap so the pod still gets a proxy.
        logger.error(
            "bootstrap override refused, using the packaged bootstrap",
            extra={"path": str(override), "error": str(error)},
        )
        return packaged_template()


def _as_mapping(document: object, source: str) -> dict[str, Any]:
    """`document` when render() and write_rendered() can use it, else BootstrapError."""
    if not isinstance(document, dict) or "static_resources" not in document:
        raise BootstrapError(f"{source}: not an Envoy bootstrap (a mapping with static_resources)")
    # The parts render() reads or edits must have the shape it expects.
    _expect(source, "static_resources", document["static_resources"], dict)
    node = _expect(source, "node", document.get("node", {}), dict)
    _expect(source, "node.metadata", node.get("metadata", {}), dict)
    stats_config = _expect(source, "stats_config", document.get("stats_config", {}), dict)
    tags = _expect(source, "stats_config.stats_tags", stats_config.get("stats_tags", []), list)
    for index, tag in enumerate(tags):
        _expect(source, f"stats_config.stats_tags[{index}]", tag, dict)
    # The rendered bootstrap is written as JSON: YAML dates, NaN or a recursive alias cannot be.
    try:
        json.dumps(document, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as error:
        raise BootstrapError(f"{source}: cannot be written as JSON: {error}") from None
    return document


def _expect(source: str, key: str, value: Any, kind: type) -> Any:
    if not isinstance(value, kind):
        want = "a mapping" if kind is dict else "a list"
        raise BootstrapError(f"{source}: {key} must be {want}, not {value!r:.40}")
    return value


def render(
    template: Mapping[str, Any],
    pod: PodIdentity,
    port_offset: int = 0,
    status_port: int = mesh.STATUS_PORT,
) -> dict[str, Any]:
    """A copy of `template` for one pod: its node identity, its workload stats tag, and every
    reference to the status port (the `agent` cluster behind 15021) moved to `status_port`."""
    config = copy.deepcopy(dict(template))
    node = config.setdefault("node", {})
    node["id"] = pod.node_id
    node["cluster"] = pod.cluster
    node["metadata"] = {
        **node.get("metadata", {}),
        "NAME": pod.name,
        "NAMESPACE": pod.namespace,
        "INSTANCE_IPS": pod.ip,
        "SERVICE_ACCOUNT": pod.service_account,
        "NODE_NAME": pod.node_name,
        "WORKLOAD_NAME": pod.workload_name,
        "LABELS": dict(pod.labels),
    }
    for tag in config.get("stats_config", {}).get("stats_tags", []):
        if tag.get("tag_name") == "mesh_workload":
            tag["fixed_value"] = pod.workload_name
    ports = {port: port + port_offset for port in mesh.RESERVED_PORTS}
    ports[mesh.STATUS_PORT] = status_port + port_offset
    if any(old != new for old, new in ports.items()):
        _move_ports(config, ports)
    return config


def _move_ports(node: Any, ports: Mapping[int, int]) -> None:
    """Replace well-known ports by the pod's: the status port, and an offset in tests (several
    sidecars on one host)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("port_value", "destination_port") and isinstance(value, int):
                node[key] = ports.get(value, value)
            else:
                _move_ports(value, ports)
    elif isinstance(node, list):
        for item in node:
            _move_ports(item, ports)


def write_rendered(config: Mapping[str, Any], workdir: Path) -> Path:
    """Write atomically so Envoy never reads half a file."""
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / RENDERED_FILE
    partial = target.with_suffix(".tmp")
    partial.write_text(json.dumps(config, separators=(",", ":")))
    os.replace(partial, target)
    return target
