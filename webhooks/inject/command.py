"""`mesh-webhooks inject`: inject the sidecar into Kubernetes YAML offline, like istioctl
kube-inject, with exactly the webhook's code (handler.process)."""

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from webhooks import numbers, yamlio
from webhooks.inject import config as inject_config
from webhooks.inject.annotations import InjectionError
from webhooks.inject.config import ConfigError, InjectConfig, resolve_native_sidecars
from webhooks.inject.handler import process

# Where each workload kind keeps its pod template.
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--filename", required=True, help="YAML input file, or - for stdin")
    parser.add_argument("-o", "--output", help="write here instead of stdout")
    parser.add_argument("--config", type=Path, help="injection config file (default: built-in)")
    parser.add_argument(
        "--native-sidecars",
        choices=["auto", "true", "false"],
        help="override the config's nativeSidecars; offline, auto is classic unless "
        "--kube-version says the cluster is 1.29 or newer",
    )
    parser.add_argument("--kube-version", help="the target cluster's version, e.g. 1.30")
    parser.add_argument("--namespace", default="default", help="for objects that name none")
    parser.add_argument(
        "--explain", action="store_true", help="print each pod's decision and reason to stderr"
    )


class _Injector:
    def __init__(self, config: InjectConfig, native: bool, namespace: str) -> None:
        self.config, self.native, self.namespace = config, native, namespace
        self.explanations: list[str] = []

    def pod(self, pod: dict[str, Any], label: str, namespace: str, workload: str) -> dict[str, Any]:
        pod = yamlio.json_keys(pod)  # as kubectl would send it: map keys are strings
        try:
            outcome = process(pod, namespace, self.config, self.native, workload)
        except InjectionError as error:
            raise InjectionError(f"{label}: {error}") from None
        notes = "".join(f"\n  warning: {warning}" for warning in outcome.warnings)
        self.explanations.append(f"{label}: {outcome.decision.message}{notes}")
        return outcome.injection.pod if outcome.injection else pod

    def document(self, document: Any) -> Any:
        if not isinstance(document, dict):
            return document
        kind, metadata = document.get("kind"), document.get("metadata")
        # The document's metadata only names it in messages; `process` checks the pod.
        metadata = metadata if isinstance(metadata, dict) else {}
        name = str(metadata.get("name") or metadata.get("generateName") or "")
        namespace = str(metadata.get("namespace") or self.namespace)
        label = f"{kind} {namespace}/{name}"
        if kind == "List" and isinstance(document.get("items"), list):
            return {**document, "items": [self.document(item) for item in document["items"]]}
        if kind == "Pod":
            return self.pod(document, label, namespace, "")
        path = TEMPLATE_PATHS.get(str(kind))
        if path is None:
            return document
        return _replace(document, path, lambda t: self.pod(t, label, namespace, name))


def _replace(document: dict[str, Any], path: tuple[str, ...], change: Any) -> dict[str, Any]:
    """A copy of `document` with the value at `path` changed; unchanged if the path is absent."""
    head, *rest = path
    child = document.get(head)
    if not isinstance(child, dict):
        return document
    new_child = change(child) if not rest else _replace(child, tuple(rest), change)
    return document if new_child is child else {**document, head: new_child}


def _kube_version(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    major, _, minor = value.lstrip("v").partition(".")
    minor = minor.split(".")[0]
    major_number, minor_number = numbers.whole_number(major), numbers.whole_number(minor)
    if major_number is None or minor_number is None:
        raise SystemExit(f"inject: --kube-version wants MAJOR.MINOR, got {value!r}")
    return major_number, minor_number


def _documents(filename: str) -> list[Any]:
    """Every document, empty ones included (as None), read as kubectl reads YAML."""
    text = sys.stdin.read() if filename == "-" else Path(filename).read_text(encoding="utf-8")
    return yamlio.load_all(text)


def run(args: argparse.Namespace) -> int:
    try:
        config = (
            inject_config.load_config(args.config)
            if args.config
            else inject_config.default_config()
        )
        mode = args.native_sidecars or config.native_sidecars
        injector = _Injector(
            config, resolve_native_sidecars(mode, _kube_version(args.kube_version)), args.namespace
        )
        output = [injector.document(document) for document in _documents(args.filename)]
    except UnicodeDecodeError as error:
        print(f"inject: {args.filename}: not UTF-8 text: {error}", file=sys.stderr)
        return 2
    except (ConfigError, InjectionError, OSError, yaml.YAMLError) as error:
        print(f"inject: {error}", file=sys.stderr)
        return 1
    if args.explain:
        print("\n".join(injector.explanations), file=sys.stderr)
    text = yamlio.dump_all(output)
    if not args.output:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.output).write_text(text)
    except OSError as error:
        print(f"inject: cannot write {args.output}: {error.strerror or error}", file=sys.stderr)
        return 1
    return 0
