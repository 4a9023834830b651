"""The kinds we validate: one row each, looked up by group and kind whatever the version."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from webhooks.validate.kinds import (
    authentication,
    authorization,
    destinationrule,
    envoyfilter,
    extensions,
    gateway,
    serviceentry,
    sidecar,
    telemetry,
    virtualservice,
    workload,
)
from webhooks.validate.kinds.meta import Meta
from webhooks.validate.models import (
    destinationrule as dr,
    envoyfilter as ef,
    extensions as ext,
    gateway as gw,
    security as sec,
    sidecar as sc,
    telemetry as tel,
    virtualservice as vs,
    workload as wl,
)
from webhooks.validate.models.base import Model
from webhooks.validate.verdict import Verdict

Rules = Callable[[Any, Meta], Verdict]
NETWORKING = "networking.istio.io"
SECURITY = "security.istio.io"
TELEMETRY = "telemetry.istio.io"
EXTENSIONS = "extensions.istio.io"
GROUPS = (NETWORKING, SECURITY, TELEMETRY, EXTENSIONS)
NETWORKING_VERSIONS = ("v1alpha3", "v1beta1", "v1")


@dataclass(frozen=True)
class Kind:
    group: str
    kind: str
    plural: str
    versions: tuple[str, ...]  # served, oldest first; the last one is stored
    model: type[Model]
    rules: Rules
    short_names: tuple[str, ...] = ()
    spec_required: bool = False

    @property
    def storage_version(self) -> str:
        return self.versions[-1]


KINDS: tuple[Kind, ...] = (
    Kind(
        NETWORKING,
        "VirtualService",
        "virtualservices",
        NETWORKING_VERSIONS,
        vs.VirtualService,
        virtualservice.validate,
        ("vs",),
    ),
    Kind(
        NETWORKING,
        "DestinationRule",
        "destinationrules",
        NETWORKING_VERSIONS,
        dr.DestinationRule,
        destinationrule.validate,
        ("dr",),
    ),
    Kind(
        NETWORKING,
        "Gateway",
        "gateways",
        NETWORKING_VERSIONS,
        gw.Gateway,
        gateway.validate,
        ("gw",),
    ),
    Kind(
        NETWORKING,
        "ServiceEntry",
        "serviceentries",
        NETWORKING_VERSIONS,
        wl.ServiceEntry,
        serviceentry.validate,
        ("se",),
        spec_required=True,
    ),
    Kind(NETWORKING, "Sidecar", "sidecars", NETWORKING_VERSIONS, sc.Sidecar, sidecar.validate),
    Kind(
        NETWORKING,
        "WorkloadEntry",
        "workloadentries",
        NETWORKING_VERSIONS,
        wl.WorkloadEntry,
        workload.validate_entry,
        ("we",),
        spec_required=True,
    ),
    Kind(
        NETWORKING,
        "WorkloadGroup",
        "workloadgroups",
        NETWORKING_VERSIONS,
        wl.WorkloadGroup,
        workload.validate_group,
        ("wg",),
        spec_required=True,
    ),
    Kind(
        NETWORKING,
        "EnvoyFilter",
        "envoyfilters",
        ("v1alpha3",),
        ef.EnvoyFilter,
        envoyfilter.validate,
    ),
    Kind(
        NETWORKING,
        "ProxyConfig",
        "proxyconfigs",
        ("v1beta1",),
        ef.ProxyConfig,
        envoyfilter.validate_proxy_config,
    ),
    Kind(
        SECURITY,
        "AuthorizationPolicy",
        "authorizationpolicies",
        ("v1beta1", "v1"),
        sec.AuthorizationPolicy,
        authorization.validate,
        ("ap",),
    ),
    Kind(
        SECURITY,
        "PeerAuthentication",
        "peerauthentications",
        ("v1beta1", "v1"),
        sec.PeerAuthentication,
        authentication.validate_peer,
        ("pa",),
    ),
    Kind(
        SECURITY,
        "RequestAuthentication",
        "requestauthentications",
        ("v1beta1", "v1"),
        sec.RequestAuthentication,
        authentication.validate_request,
        ("ra",),
    ),
    Kind(
        TELEMETRY,
        "Telemetry",
        "telemetries",
        ("v1alpha1", "v1"),
        tel.Telemetry,
        telemetry.validate,
        ("telemetry",),
    ),
    Kind(
        EXTENSIONS,
        "WasmPlugin",
        "wasmplugins",
        ("v1alpha1",),
        ext.WasmPlugin,
        extensions.validate_wasm,
    ),
    Kind(
        EXTENSIONS,
        "TrafficExtension",
        "trafficextensions",
        ("v1alpha1",),
        ext.TrafficExtension,
        extensions.validate_traffic_extension,
    ),
)

_BY_GROUP_KIND = {(kind.group, kind.kind): kind for kind in KINDS}


def lookup(group: str, kind: str) -> Kind | None:
    """Istio ignores the version, so a newer CRD version is still validated."""
    return _BY_GROUP_KIND.get((group, kind))


def is_mesh_group(group: str) -> bool:
    return group in GROUPS
