"""Access to Istio's corpus (../shared/corpus/istio) and to our table-driven cases."""

from pathlib import Path
from typing import Any

from webhooks.validate.command import load_documents

ROOT = Path(__file__).resolve().parents[3]
CORPUS = (ROOT / "../shared/corpus/istio").resolve()
CASES = Path(__file__).parent / "cases"

CASE_KINDS = {
    "virtualservice": ("networking.istio.io/v1", "VirtualService"),
    "destinationrule": ("networking.istio.io/v1", "DestinationRule"),
    "gateway": ("networking.istio.io/v1", "Gateway"),
    "serviceentry": ("networking.istio.io/v1", "ServiceEntry"),
    "sidecar": ("networking.istio.io/v1", "Sidecar"),
    "workloadentry": ("networking.istio.io/v1", "WorkloadEntry"),
    "workloadgroup": ("networking.istio.io/v1", "WorkloadGroup"),
    "envoyfilter": ("networking.istio.io/v1alpha3", "EnvoyFilter"),
    "proxyconfig": ("networking.istio.io/v1beta1", "ProxyConfig"),
    "authorizationpolicy": ("security.istio.io/v1", "AuthorizationPolicy"),
    "peerauthentication": ("security.istio.io/v1", "PeerAuthentication"),
    "requestauthentication": ("security.istio.io/v1", "RequestAuthentication"),
    "telemetry": ("telemetry.istio.io/v1", "Telemetry"),
    "wasmplugin": ("extensions.istio.io/v1alpha1", "WasmPlugin"),
    "trafficextension": ("extensions.istio.io/v1alpha1", "TrafficExtension"),
    "common": ("networking.istio.io/v1", "VirtualService"),
}


def read(path: Path) -> list[Any]:
    return load_documents(path.read_text())


def corpus_documents(pattern: str) -> list[tuple[str, dict[str, Any]]]:
    """(id, document) for every document of the corpus files matching `pattern`."""
    found = []
    for path in sorted(CORPUS.glob(pattern)):
        for index, document in enumerate(read(path)):
            name = document.get("metadata", {}).get("name", "")
            found.append((f"{path.stem}[{index}]-{name}", document))
    return found


def case_documents() -> list[tuple[str, str, str | None, dict[str, Any]]]:
    """(id, expectation, expected warning, object) for every case: `_expect` is `ok` or an error
    substring, the optional `_warn` a warning substring (`""`: no warning at all);
    apiVersion/kind come from the file name."""
    found = []
    for path in sorted(CASES.glob("*.yaml")):
        api_version, kind = CASE_KINDS[path.stem]
        for index, case in enumerate(read(path)):
            expect = case.pop("_expect")
            warn = case.pop("_warn", None)
            document = {
                "apiVersion": case.pop("apiVersion", api_version),
                "kind": case.pop("kind", kind),
                "metadata": {"name": "case", "namespace": "default", **case.pop("metadata", {})},
                **case,
            }
            found.append((f"{path.stem}[{index}]", expect, warn, document))
    return found
