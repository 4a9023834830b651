"""`mesh-webhooks serve`: run the admission server."""

import argparse
import dataclasses
import logging
import os
from pathlib import Path

from webhooks import argtypes, kube
from webhooks.certs.cluster import ClusterSettings
from webhooks.certs.failclosed import FailClosedSettings
from webhooks.inject.config import ConfigError
from webhooks.mesh import DEFAULT_REVISION
from webhooks.server import local, main
from webhooks.server.app import DEFAULT_MAX_BODY_BYTES

logger = logging.getLogger(__name__)

CERT_MODES = ("self", "cert-manager", "external")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--local",
        action="store_true",
        help="serve on 127.0.0.1 with self-generated certificates in --certs-dir (no cluster)",
    )
    parser.add_argument(
        "--host",
        default=main.ALL_ADDRESSES,
        help="address to listen on (not --local); default: every address, IPv6 and IPv4 where "
        "the pod has IPv6, else IPv4",
    )
    parser.add_argument("--port", type=argtypes.port, default=9443)
    parser.add_argument("--certs-dir", type=Path, default=Path("certs/local"))
    parser.add_argument("--tls-cert-file", type=Path, help="serve this certificate (hot-reloaded)")
    parser.add_argument("--tls-key-file", type=Path, help="the key of --tls-cert-file")
    parser.add_argument(
        "--cert-poll-seconds",
        type=argtypes.seconds,
        default=2.0,
        help="how often certificate files are checked",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=argtypes.positive_int,
        default=DEFAULT_MAX_BODY_BYTES,
        help="413 above this",
    )
    _configure_cluster(parser)
    parser.add_argument("--inject-config", type=Path, help="injection config (hot-reloaded)")
    parser.add_argument(
        "--native-sidecars", choices=("auto", "true", "false"), help="overrides nativeSidecars"
    )


def _configure_cluster(parser: argparse.ArgumentParser) -> None:
    cluster = parser.add_argument_group("cluster certificates")
    cluster.add_argument(
        "--cert-mode",
        choices=CERT_MODES,
        help="self: CA Secret + in-memory serving cert + caBundle reconciliation (default in a "
        "cluster); cert-manager/external: serve --tls-cert-file/--tls-key-file (and, given "
        "--validating-webhook-config, run the self-test and flip its failurePolicy to Fail)",
    )
    cluster.add_argument("--namespace", default=os.environ.get("POD_NAMESPACE"))
    cluster.add_argument(
        "--revision",
        type=argtypes.revision,
        default=DEFAULT_REVISION,
        help="the istio.io/rev this release serves (default: default); the self-test's Gateway "
        "carries it, so that a named revision's validating webhook is the one reached",
    )
    cluster.add_argument("--service", help="the webhook Service (serving certificate names)")
    cluster.add_argument("--ca-secret", help="the CA Secret (default <service>-ca)")
    cluster.add_argument("--mutating-webhook-config", help="MutatingWebhookConfiguration to keep")
    cluster.add_argument("--validating-webhook-config", help="ValidatingWebhookConfiguration")
    cluster.add_argument(
        "--no-fail-closed",
        dest="fail_closed",
        action="store_false",
        help="never flip the validating failurePolicy to Fail (GitOps: no drift)",
    )
    cluster.add_argument("--kubeconfig", type=Path, help="default: in-cluster service account")
    cluster.add_argument(
        "--extra-san",
        action="append",
        default=[],
        help="another DNS name or IP for the serving certificate (e.g. 127.0.0.1 for url mode)",
    )
    cluster.add_argument("--serving-cert-validity", type=argtypes.validity, default="30d")
    cluster.add_argument("--ca-check-seconds", type=argtypes.seconds, default=60.0)
    cluster.add_argument("--serving-cert-check-seconds", type=argtypes.seconds, default=60.0)
    cluster.add_argument("--cabundle-poll-seconds", type=argtypes.seconds, default=5.0)


def _cert_mode(args: argparse.Namespace) -> str:
    if args.cert_mode:
        return str(args.cert_mode)
    return "external" if args.tls_cert_file else "self"


def _cluster_settings(args: argparse.Namespace) -> ClusterSettings:
    if not args.namespace or not args.service:
        raise SystemExit(
            "serve: --cert-mode self needs --service and --namespace (or POD_NAMESPACE)"
        )
    # Renewal is due with a third of the lifetime left and noticed at the next check: a check
    # interval longer than that third would serve expired certificates.
    if args.serving_cert_validity.total_seconds() <= 3 * args.serving_cert_check_seconds:
        raise SystemExit(
            "serve: --serving-cert-validity must be more than 3 x --serving-cert-check-seconds "
            f"({args.serving_cert_check_seconds:g}s), or certificates expire before renewal"
        )
    return ClusterSettings(
        namespace=args.namespace,
        service=args.service,
        ca_secret=args.ca_secret or f"{args.service}-ca",
        revision=args.revision,
        mutating_config=args.mutating_webhook_config,
        validating_config=args.validating_webhook_config,
        fail_closed=args.fail_closed,
        kubeconfig=args.kubeconfig,
        extra_sans=tuple(args.extra_san),
        serving_validity=args.serving_cert_validity,
        ca_check_seconds=args.ca_check_seconds,
        serving_check_seconds=args.serving_cert_check_seconds,
        cabundle_poll_seconds=args.cabundle_poll_seconds,
    )


def fail_closed_settings(args: argparse.Namespace) -> FailClosedSettings | None:
    """File modes fail closed like self mode when a validating configuration is named and a
    cluster is reachable; the caBundle stays cainjector's or the user's."""
    if not args.validating_webhook_config or not args.fail_closed:
        return None
    if args.kubeconfig is None and "KUBERNETES_SERVICE_HOST" not in os.environ:
        logger.warning(
            "no --kubeconfig and not in a pod: no self-test, failurePolicy stays as installed",
            extra={"configuration": args.validating_webhook_config},
        )
        return None
    if not args.namespace:
        raise SystemExit(
            "serve: the self-test before failurePolicy Fail needs --namespace (or POD_NAMESPACE);"
            " or pass --no-fail-closed"
        )
    return FailClosedSettings(
        namespace=args.namespace,
        validating_config=args.validating_webhook_config,
        revision=args.revision,
        kubeconfig=args.kubeconfig,
        poll_seconds=args.cabundle_poll_seconds,
    )


def run(args: argparse.Namespace) -> int:
    try:
        return _serve(args)
    except ConfigError as error:
        raise SystemExit(f"serve: {error}") from None
    except kube.KubeError as error:  # e.g. a kubeconfig that cannot be loaded
        raise SystemExit(f"serve: {error.message}") from None
    except main.BackgroundTaskDied as error:  # logged in full already; exit non-zero
        raise SystemExit(f"serve: {error}") from None
    except OSError as error:  # e.g. --certs-dir is a file, or the port is taken
        raise SystemExit(f"serve: {error}") from None


def _serve(args: argparse.Namespace) -> int:
    settings = main.ServerSettings(
        host=args.host,
        port=args.port,
        cert_file=args.tls_cert_file,
        key_file=args.tls_key_file,
        max_body_bytes=args.max_body_bytes,
        cert_poll_seconds=args.cert_poll_seconds,
        inject_config=args.inject_config,
        native_sidecars=args.native_sidecars,
        kubeconfig=args.kubeconfig,
    )
    if args.local:
        local.serve(settings, args.certs_dir)
        return 0
    if _cert_mode(args) == "self":
        settings = dataclasses.replace(settings, cluster=_cluster_settings(args))
        main.run_on_uvloop(main.serve_cluster(settings))
        return 0
    if args.tls_cert_file is None or args.tls_key_file is None:
        raise SystemExit(
            "serve: --cert-mode cert-manager/external needs --tls-cert-file and "
            "--tls-key-file (the mounted Secret)"
        )
    settings = dataclasses.replace(settings, fail_closed=fail_closed_settings(args))
    main.run_on_uvloop(main.serve_files(settings))
    return 0
