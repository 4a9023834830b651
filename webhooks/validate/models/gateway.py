"""networking.istio.io Gateway, and the port and server-TLS types Sidecar reuses."""

from typing import Literal

from pydantic import Field

from webhooks.validate.models.base import Model, UInt32

TLSVersion = Literal["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"]


class Port(Model):
    number: UInt32
    protocol: str
    name: str
    target_port: UInt32 = 0


class TLSCertificate(Model):
    server_certificate: str = ""
    private_key: str = ""
    ca_certificates: str = ""


class ServerTLSSettings(Model):
    https_redirect: bool = False
    mode: (
        Literal[
            "PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL"
        ]
        | None
    ) = None
    server_certificate: str = ""
    private_key: str = ""
    ca_certificates: str = ""
    ca_crl: str = ""
    credential_name: str = ""
    credential_names: list[str] = Field(default_factory=list)
    tls_certificates: list[TLSCertificate] = Field(default_factory=list)
    subject_alt_names: list[str] = Field(default_factory=list)
    verify_certificate_spki: list[str] = Field(default_factory=list)
    verify_certificate_hash: list[str] = Field(default_factory=list)
    min_protocol_version: TLSVersion | None = None
    max_protocol_version: TLSVersion | None = None
    cipher_suites: list[str] = Field(default_factory=list)


class Server(Model):
    port: Port
    bind: str = ""
    hosts: list[str]
    tls: ServerTLSSettings | None = None
    default_endpoint: str = ""
    name: str = ""


class Gateway(Model):
    """A load balancer at the edge of the mesh."""

    servers: list[Server | None] = Field(default_factory=list)
    selector: dict[str, str] = Field(default_factory=dict)
