"""The generated CRDs: fresh, accepted by Kubernetes, structural, and in line with the models."""

from collections.abc import Iterator
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.unit.validate.corpus import corpus_documents
from webhooks.validate import crds, registry

CRDS = list(yaml.safe_load_all(crds.render()))
K8S_VERSION = "1.37.0"


def test_generated_files_are_fresh() -> None:
    assert crds.main(["--check"]) == 0, "run `make crds`"


def test_chart_and_manifest_copies_are_identical() -> None:
    texts = {path.read_text() for path in crds.OUTPUTS}
    assert len(texts) == 1


@pytest.mark.parametrize("crd", CRDS, ids=[c["metadata"]["name"] for c in CRDS])
def test_every_crd_passes_kubernetes_strict_validation(crd: dict[str, Any]) -> None:
    kubernetes_validate.validate(crd, K8S_VERSION, strict=True)


def _nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, child in schema.get("properties", {}).items():
        yield from _nodes(child, f"{path}.{name}")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _nodes(schema["additionalProperties"], f"{path}[*]")
    if "items" in schema:
        yield from _nodes(schema["items"], f"{path}[]")


@pytest.mark.parametrize("crd", CRDS, ids=[c["metadata"]["name"] for c in CRDS])
def test_schemas_are_structural(crd: dict[str, Any]) -> None:
    versions = crd["spec"]["versions"]
    assert all(version["served"] for version in versions)
    assert sum(version["storage"] for version in versions) == 1
    assert versions[-1]["storage"], "the newest version is stored"
    for version in versions:
        assert version["subresources"] == {"status": {}}
        for path, node in _nodes(version["schema"]["openAPIV3Schema"]):
            special = node.get("x-kubernetes-int-or-string") or node.get(
                "x-kubernetes-preserve-unknown-fields"
            )
            assert "type" in node or special, f"untyped node at {path}"
            assert not ("properties" in node and "additionalProperties" in node), path
            assert "$ref" not in node, path
            assert "default" not in node, path
            assert not {"anyOf", "oneOf", "allOf"} & set(node), path


def test_preserve_unknown_fields_only_where_istio_has_free_form_values() -> None:
    free_form = {
        (crd["spec"]["names"]["kind"], path)
        for crd in CRDS
        for path, node in _nodes(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
        if node.get("x-kubernetes-preserve-unknown-fields") and path != ".status"
    }
    assert free_form == {
        ("EnvoyFilter", ".spec.configPatches[].patch.value"),
        ("WasmPlugin", ".spec.pluginConfig"),
        ("TrafficExtension", ".spec.wasm.pluginConfig"),
    }


def test_names_follow_istio() -> None:
    by_kind = {crd["spec"]["names"]["kind"]: crd for crd in CRDS}
    assert set(by_kind) == {kind.kind for kind in registry.KINDS}
    vs = by_kind["VirtualService"]
    assert vs["metadata"]["name"] == "virtualservices.networking.istio.io"
    assert vs["spec"]["names"]["shortNames"] == ["vs"]
    assert vs["spec"]["names"]["categories"] == ["istio-io", "networking-istio-io"]
    assert [v["name"] for v in vs["spec"]["versions"]] == ["v1alpha3", "v1beta1", "v1"]


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The CRD schema as JSON Schema, with unknown fields refused (kubectl --validate=strict)."""
    if schema.get("x-kubernetes-int-or-string"):
        return {"type": ["integer", "string"]}
    converted = {key: value for key, value in schema.items() if not key.startswith("x-")}
    if "properties" in schema:
        converted["properties"] = {k: _strict(v) for k, v in schema["properties"].items()}
        converted["additionalProperties"] = False
    if isinstance(schema.get("additionalProperties"), dict):
        converted["additionalProperties"] = _strict(schema["additionalProperties"])
    if "items" in schema:
        converted["items"] = _strict(schema["items"])
    return converted


SCHEMAS = {
    (crd["spec"]["group"], crd["spec"]["names"]["kind"]): _strict(
        crd["spec"]["versions"][-1]["schema"]["openAPIV3Schema"]
    )
    for crd in CRDS
}
ACCEPTED = corpus_documents("dataset/*.yaml") + corpus_documents("crds/*-valid.yaml")


@pytest.mark.parametrize(("case", "document"), ACCEPTED, ids=[c for c, _ in ACCEPTED])
def test_the_crd_schema_accepts_every_valid_corpus_document(
    case: str, document: dict[str, Any]
) -> None:
    group = document["apiVersion"].rpartition("/")[0]
    body = {key: document[key] for key in ("spec", "status") if key in document}
    jsonschema.validate(body, SCHEMAS[(group, document["kind"])])


def test_the_crd_schema_rejects_unknown_and_mistyped_fields() -> None:
    schema = SCHEMAS[("networking.istio.io", "VirtualService")]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"spec": {"hosts": "a"}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"spec": {"htttp": []}}, schema)
