"""`mesh-webhooks certs`: issue a CA and serving pair for manual setups, or check a cluster."""

import argparse
import base64
import datetime
import os
import socket
import ssl
import sys
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509

from webhooks import argtypes, kube
from webhooks.certs import cabundle, issuing, rotation, secret
from webhooks.mesh import DEFAULT_REVISION


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    issue = actions.add_parser("issue", help="write a CA and a serving certificate to files")
    issue.add_argument("--service", required=True)
    issue.add_argument("--namespace", required=True)
    issue.add_argument("--out", type=Path, default=Path("certs/local/issued"))
    issue.add_argument("--extra-san", action="append", default=[], help="more DNS names or IPs")
    issue.add_argument(
        "--days", type=argtypes.days, default=365, help="serving certificate validity"
    )
    check = actions.add_parser("check", help="report expiries and whether each caBundle matches")
    check.add_argument("--kubeconfig", type=Path)
    check.add_argument("--namespace", default=os.environ.get("POD_NAMESPACE", "istio-system"))
    check.add_argument("--service", default="mesh-webhooks")
    check.add_argument("--ca-secret", help="self mode's CA Secret (default <service>-ca)")
    check.add_argument("--ca-file", type=Path, help="the CA to check against, from a PEM file")
    check.add_argument(
        "--tls-secret",
        help="cert-manager/external: the serving Secret (its tls.crt; its ca.crt is the CA "
        "unless --ca-file is given)",
    )
    check.add_argument(
        "--server", help="https://HOST:PORT of a running server: report the certificate it serves"
    )
    check.add_argument(
        "--revision",
        type=argtypes.revision,
        default=DEFAULT_REVISION,
        help="the release's revision: a named one's configurations end in -<revision>",
    )
    check.add_argument(
        "--mutating-webhook-config", help="default <service>-sidecar-injector[-<revision>]"
    )
    check.add_argument("--validating-webhook-config", help="default <service>-validator[-<rev>]")


def issue(args: argparse.Namespace) -> int:
    hosts = rotation.service_hosts(args.service, args.namespace, args.extra_san)
    try:
        # cryptography refuses names it cannot encode: empty or past 64 characters (the CA's
        # common name), and DNS names that are not ASCII (IDNA A-labels, xn--…, are fine).
        ca = issuing.create_ca(f"{args.service}-ca.{args.namespace}")
        leaf = issuing.issue_serving_cert(ca, hosts, datetime.timedelta(days=args.days))
        args.out.mkdir(parents=True, exist_ok=True)
        issuing.write_pem(args.out / "ca.crt", ca.cert_pem, private=False)
        issuing.write_pem(args.out / "ca.key", ca.key_pem, private=True)
        issuing.write_pem(args.out / "tls.crt", leaf.cert_pem, private=False)
        issuing.write_pem(args.out / "tls.key", leaf.key_pem, private=True)
    except ValueError as error:
        where = f"service {args.service!r} in namespace {args.namespace!r}"
        raise SystemExit(f"certs issue: cannot issue for {where}: {error}") from None
    except OSError as error:
        raise SystemExit(f"certs issue: {error}") from None
    print(f"wrote ca.crt, ca.key, tls.crt, tls.key to {args.out} for: {', '.join(hosts)}")
    print(f"serving certificate expires {leaf.cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    print("caBundle (base64 of ca.crt):")
    print(base64.b64encode(ca.cert_pem).decode())
    return 0


def _expiry(cert: x509.Certificate, renew_below: float) -> tuple[str, bool]:
    """`expires <date> (state)` and whether it is still valid."""
    now = issuing.utc_now()
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    left = cert.not_valid_after_utc - now
    state = "EXPIRED" if left <= datetime.timedelta(0) else "ok"
    if state == "ok" and left < life * renew_below:
        state = "renewal due"
    return f"expires {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC ({state})", state != "EXPIRED"


class _Secrets:
    """Each Secret read once per check: the CA and the serving certificate in --tls-secret then
    come from one version of it, even while cert-manager rotates it."""

    def __init__(self, client: kube.Kube) -> None:
        self._client = client
        self._read: dict[tuple[str, str], dict[str, bytes]] = {}

    def data(self, namespace: str, name: str, where: str) -> dict[str, bytes]:
        """The Secret's decoded data; `where` names it in the error when it does not exist."""
        if (namespace, name) not in self._read:
            stored = self._client.read_secret(namespace, name)
            if stored is None:
                raise ValueError(f"{where}: NOT FOUND")
            self._read[namespace, name] = kube.decode_data(stored)
        return self._read[namespace, name]

    def key(self, namespace: str, name: str, key: str) -> bytes:
        where = f"Secret {namespace}/{name}"
        value = self.data(namespace, name, where).get(key)
        if not value:
            raise ValueError(f"{where}: has no {key}")
        return value


def _first_cert(pem: bytes, where: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificates(pem)[0]
    except ValueError:
        raise ValueError(f"{where}: UNUSABLE (no PEM certificate)") from None


def _load_ca(secrets: _Secrets, args: argparse.Namespace) -> tuple[str, x509.Certificate]:
    """The CA and where it came from: --ca-file, else the --tls-secret's ca.crt, else the CA
    Secret of self mode. Raises ValueError (one line) or KubeError."""
    if args.ca_file is not None:
        where = f"CA file {args.ca_file}"
        try:
            return where, _first_cert(args.ca_file.read_bytes(), where)
        except OSError as error:
            raise ValueError(f"{where}: {error.strerror}") from None
    if args.tls_secret:
        where = f"CA (ca.crt of Secret {args.namespace}/{args.tls_secret})"
        pem = secrets.key(args.namespace, args.tls_secret, "ca.crt")
        return where, _first_cert(pem, where)
    name = args.ca_secret or f"{args.service}-ca"
    where = f"CA Secret {args.namespace}/{name}"
    data = secrets.data(args.namespace, name, where)
    try:
        return where, secret.parse_ca(data).cert
    except ValueError as bad:
        raise ValueError(f"{where}: UNUSABLE ({bad})") from None


def _served_certificate(address: str) -> x509.Certificate:
    """The certificate a server presents (not verified here: we report on it)."""
    parts = urlsplit(address if "://" in address else f"https://{address}")
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    host = parts.hostname or "localhost"
    with (
        socket.create_connection((host, parts.port or 443), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    if der is None:
        raise ValueError("no certificate presented")
    return x509.load_der_x509_certificate(der)


def _check_serving(secrets: _Secrets, args: argparse.Namespace, ca: x509.Certificate) -> bool:
    """Report the serving certificate(s) we can see: in --tls-secret and/or at --server."""
    healthy = True
    sources: list[tuple[str, str | None]] = []  # (what, address to connect to)
    if args.tls_secret:
        sources.append((f"Secret {args.namespace}/{args.tls_secret}", None))
    if args.server:
        sources.append((f"served at {args.server}", args.server))
    for where, address in sources:
        try:
            if address is None:
                pem = secrets.key(args.namespace, args.tls_secret, "tls.crt")
                cert = _first_cert(pem, "tls.crt")
            else:
                cert = _served_certificate(address)
        except (OSError, ValueError) as error:
            print(f"serving certificate {where}: UNREADABLE ({error})")
            healthy = False
            continue
        expiry, valid = _expiry(cert, rotation.RENEW_WITH_LEFT)
        signed = issuing.issued_by(cert, ca)
        issuer = "issued by the CA" if signed else "NOT issued by the CA"
        print(f"serving certificate {where}: {expiry}, {issuer}")
        healthy = healthy and valid and signed
    return healthy


def _check_bundles(client: kube.Kube, args: argparse.Namespace, ca: x509.Certificate) -> bool:
    healthy = True
    suffix = "" if args.revision == DEFAULT_REVISION else f"-{args.revision}"  # as the chart's
    for kind, name in (
        (kube.MUTATING, args.mutating_webhook_config or f"{args.service}-sidecar-injector{suffix}"),
        (kube.VALIDATING, args.validating_webhook_config or f"{args.service}-validator{suffix}"),
    ):
        configuration = client.read_webhook_configuration(kind, name)
        if configuration is None:
            print(f"{kind}/{name}: NOT FOUND")
            healthy = False
            continue
        for webhook in configuration.get("webhooks") or []:
            trusted = ca in cabundle.bundle_certificates(webhook)
            policy = webhook.get("failurePolicy", "Fail")
            verdict = "caBundle matches the CA" if trusted else "caBundle DOES NOT match the CA"
            print(f"{kind}/{name} webhook {webhook['name']}: {verdict}, failurePolicy {policy}")
            healthy = healthy and trusted
    return healthy


def check(args: argparse.Namespace) -> int:
    """Exit 0 only if the CA and serving certificate are valid and every caBundle holds the CA."""
    try:
        client = kube.Kube(kube.connect(args.kubeconfig))
    except kube.KubeError as error:
        print(f"cannot check: {error.message}", file=sys.stderr)
        return 1
    try:
        secrets = _Secrets(client)
        where, ca = _load_ca(secrets, args)
        expiry, valid = _expiry(ca, secret.RENEW_BELOW)
        print(f"{where}: {expiry}")
        serving = _check_serving(secrets, args, ca)
        healthy = _check_bundles(client, args, ca) and serving and valid
    except ValueError as problem:
        print(problem)
        return 1
    except kube.KubeError as error:
        print(f"cannot check: {error.message}", file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0 if healthy else 1


def run(args: argparse.Namespace) -> int:
    return issue(args) if args.action == "issue" else check(args)
