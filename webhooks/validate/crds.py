"""CustomResourceDefinitions generated from the models: `python -m webhooks.validate.crds`.

Structural OpenAPI v3: every node typed (or int-or-string / preserve-unknown-fields), no $ref,
no defaults (the apiserver would apply them), unknown fields pruned except in free-form values.
"""

import argparse
import copy
import sys
from pathlib import Path
from typing import Any

import yaml

from webhooks.validate import registry
from webhooks.validate.models.base import Model

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = (ROOT / "charts/mesh-webhooks/crds/crds.yaml", ROOT / "manifests/crds.yaml")
HEADER = "# Generated from webhooks/validate/models by `make crds`; do not edit.\n"
_KEPT = ("minLength", "maxLength", "pattern", "minimum", "maximum", "minItems", "minProperties")
Schema = dict[str, Any]


def _convert(node: Schema, defs: dict[str, Schema]) -> Schema:
    if "$ref" in node:
        return _convert(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in node:
        options = [option for option in node["anyOf"] if option.get("type") != "null"]
        if {option.get("type") for option in options} == {"integer", "string"}:
            return {"x-kubernetes-int-or-string": True}
        if len(options) != 1:
            raise ValueError(f"a union the CRD schema cannot express: {node}")
        return _convert(options[0], defs)
    if "enum" in node or "const" in node:
        return {"type": "string", "enum": list(node.get("enum") or [node["const"]])}
    kind = node.get("type")
    if kind == "object" or (kind is None and not node):
        return _object(node, defs)
    if kind == "array":
        return {"type": "array", "items": _convert(node.get("items", {}), defs)}
    if kind not in ("string", "integer", "number", "boolean"):
        raise ValueError(f"a schema node the CRD cannot express: {node}")
    schema: Schema = {"type": kind}
    schema |= {key: node[key] for key in _KEPT if key in node}
    return schema


def _object(node: Schema, defs: dict[str, Schema]) -> Schema:
    schema: Schema = {"type": "object"}
    if "description" in node:
        schema["description"] = node["description"]
    if "properties" in node:
        schema["properties"] = {
            name: _convert(child, defs) for name, child in node["properties"].items()
        }
        if node.get("required"):
            schema["required"] = list(node["required"])
        return schema
    values = node.get("additionalProperties")
    if isinstance(values, dict) and values:
        schema["additionalProperties"] = _convert(values, defs)
    else:
        schema["x-kubernetes-preserve-unknown-fields"] = True
    return schema


def spec_schema(model: type[Model]) -> Schema:
    raw = model.model_json_schema(by_alias=True)
    return _convert(raw, raw.get("$defs", {}))


def build(kind: registry.Kind) -> Schema:
    root: Schema = {
        "type": "object",
        "properties": {
            "spec": spec_schema(kind.model),
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    }
    if kind.spec_required:
        root["required"] = ["spec"]
    versions = [
        {
            "name": version,
            "served": True,
            "storage": version == kind.storage_version,
            "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": copy.deepcopy(root)},
        }
        for version in kind.versions
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{kind.plural}.{kind.group}",
            "labels": {"app.kubernetes.io/part-of": "mesh-webhooks"},
        },
        "spec": {
            "group": kind.group,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.kind.lower(),
                **({"shortNames": list(kind.short_names)} if kind.short_names else {}),
                "categories": ["istio-io", kind.group.replace(".", "-")],
            },
            "scope": "Namespaced",
            "versions": versions,
        },
    }


def render() -> str:
    documents = [build(kind) for kind in registry.KINDS]
    body = yaml.safe_dump_all(documents, sort_keys=False, width=100, explicit_start=True)
    return HEADER + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args(argv)
    text = render()
    stale = [path for path in OUTPUTS if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is stale: run `make crds`", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
