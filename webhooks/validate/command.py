"""`mesh-webhooks validate -f FILE|DIR|-`: the webhook's checks, offline (`istioctl validate`)."""

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import yaml

from webhooks import yamlio
from webhooks.validate import registry, validator

SUFFIXES = (".yaml", ".yml", ".json")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        required=True,
        metavar="FILE|DIR|-",
        help="a YAML/JSON file, a directory of them, or - for stdin (repeatable)",
    )
    parser.add_argument(
        "-n", "--namespace", default="default", help="namespace of documents that name none"
    )


def load_documents(text: str) -> list[Any]:
    """The documents of a YAML stream as kubectl would send them (go-yaml's implicit types)."""
    return [
        yamlio.json_keys(document) for document in yamlio.load_all(text) if document is not None
    ]


def _files(source: str) -> Iterator[tuple[str, str]]:
    if source == "-":
        yield "<stdin>", sys.stdin.read()
        return
    path = Path(source)
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()):
            yield str(child), _read(child)
    else:
        yield source, _read(path)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except UnicodeDecodeError as error:  # its message does not say which file
        raise ValueError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None


def read_all(sources: list[str]) -> list[Any]:
    """Every document of every source; OSError, YAMLError and ValueError mean unreadable input,
    and each names the file."""
    documents = []
    for source in sources:
        for name, text in _files(source):
            try:
                documents.extend(load_documents(text))
            except yaml.YAMLError as error:
                raise ValueError(f"{name}: {error}") from None
    return documents


def _label(document: Any, namespace: str) -> str:
    if not isinstance(document, dict):
        return f"<{type(document).__name__}>"
    metadata = document.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    kind = document.get("kind", "<no kind>")
    return f"{kind}/{metadata.get('namespace') or namespace}/{metadata.get('name', '')}"


def check(documents: list[Any], namespace: str, out: TextIO) -> int:
    invalid = 0
    for document in documents:
        label = _label(document, namespace)
        api_version = document.get("apiVersion", "") if isinstance(document, dict) else ""
        group = str(api_version).rpartition("/")[0]
        if isinstance(document, dict) and not registry.is_mesh_group(group):
            print(f"{label}: skipped (not a mesh resource)", file=out)
            continue
        outcome = validator.validate_object(document, namespace)
        if not outcome.allowed:
            invalid += 1
            print(f"{label}: {outcome.message.rstrip()}", file=out)
        for warning in outcome.warnings:
            print(f"{label}: Warning: {warning}", file=out)
    return invalid


def run(args: argparse.Namespace) -> int:
    try:
        documents = read_all(args.filename)
    except (OSError, ValueError) as error:  # ValueError: not UTF-8, or bad YAML (read_all)
        print(f"error: cannot read input: {error}", file=sys.stderr)
        return 2
    return 1 if check(documents, args.namespace, sys.stdout) else 0
