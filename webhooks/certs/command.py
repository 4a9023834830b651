"""`mesh-webhooks certs`: issue a CA and serving pair for manual setups, or check a cluster."""

import argparse
import base64
import datetime
import os
from pathlib import Path

from webhooks import kube
from webhooks.certs import cabundle, issuing, rotation, secret


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    issue = actions.add_parser("issue", help="write a CA and a serving certificate to files")
    issue.add_argument("--service", required=True)
    issue.add_argument("--namespace", required=True)
    issue.add_argument("--out", type=Path, default=Path("certs/local/issued"))
    issue.add_argument("--extra-san", action="append", default=[], help="more DNS names or IPs")
    issue.add_argument("--days", type=int, default=365, help="serving certificate validity")
    check = actions.add_parser("check", help="report expiries and whether each caBundle matches")
    check.add_argument("--kubeconfig", type=Path)
    check.add_argument("--namespace", default=os.environ.get("POD_NAMESPACE", "istio-system"))
    check.add_argument("--service", default="mesh-webhooks")
    check.add_argument("--ca-secret", help="default <service>-ca")
    check.add_argument("--mutating-webhook-config", help="default <service>-sidecar-injector")
    check.add_argument("--validating-webhook-config", help="default <service>-validator")


def issue(args: argparse.Namespace) -> int:
    hosts = rotation.service_hosts(args.service, args.namespace, args.extra_san)
    ca = issuing.create_ca(f"{args.service}-ca.{args.namespace}")
    leaf = issuing.issue_serving_cert(ca, hosts, datetime.timedelta(days=args.days))
    args.out.mkdir(parents=True, exist_ok=True)
    issuing.write_pem(args.out / "ca.crt", ca.cert_pem, private=False)
    issuing.write_pem(args.out / "ca.key", ca.key_pem, private=True)
    issuing.write_pem(args.out / "tls.crt", leaf.cert_pem, private=False)
    issuing.write_pem(args.out / "tls.key", leaf.key_pem, private=True)
    print(f"wrote ca.crt, ca.key, tls.crt, tls.key to {args.out} for: {', '.join(hosts)}")
    print(f"serving certificate expires {leaf.cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    print("caBundle (base64 of ca.crt):")
    print(base64.b64encode(ca.cert_pem).decode())
    return 0


def _check_bundles(client: kube.Kube, args: argparse.Namespace, ca: issuing.KeyPair) -> bool:
    healthy = True
    for kind, name in (
        (kube.MUTATING, args.mutating_webhook_config or f"{args.service}-sidecar-injector"),
        (kube.VALIDATING, args.validating_webhook_config or f"{args.service}-validator"),
    ):
        configuration = client.read_webhook_configuration(kind, name)
        if configuration is None:
            print(f"{kind}/{name}: NOT FOUND")
            healthy = False
            continue
        for webhook in configuration.get("webhooks") or []:
            trusted = ca.cert in cabundle.bundle_certificates(webhook)
            policy = webhook.get("failurePolicy", "Fail")
            verdict = "caBundle matches the CA" if trusted else "caBundle DOES NOT match the CA"
            print(f"{kind}/{name} webhook {webhook['name']}: {verdict}, failurePolicy {policy}")
            healthy = healthy and trusted
    return healthy


def check(args: argparse.Namespace) -> int:
    client = kube.Kube(kube.connect(args.kubeconfig))
    name = args.ca_secret or f"{args.service}-ca"
    try:
        stored = client.read_secret(args.namespace, name)
        if stored is None:
            print(f"CA Secret {args.namespace}/{name}: NOT FOUND")
            return 1
        try:
            ca = secret.parse_ca(kube.decode_data(stored))
        except ValueError as bad:
            print(f"CA Secret {args.namespace}/{name}: UNUSABLE ({bad})")
            return 1
        now = datetime.datetime.now(datetime.UTC)
        expired = ca.cert.not_valid_after_utc <= now
        state = (
            "EXPIRED" if expired else "renewal due" if secret.needs_renewal(ca.cert, now) else "ok"
        )
        print(
            f"CA Secret {args.namespace}/{name}: expires {ca.cert.not_valid_after_utc:%Y-%m-%d}"
            f" ({state})"
        )
        healthy = _check_bundles(client, args, ca) and not expired
    except kube.KubeError as error:
        print(f"cannot check: {error.message}")
        return 1
    finally:
        client.close()
    return 0 if healthy else 1


def run(args: argparse.Namespace) -> int:
    return issue(args) if args.action == "issue" else check(args)
