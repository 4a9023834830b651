"""`mesh-webhooks serve`: run the admission server."""

import argparse
import asyncio
from pathlib import Path

from webhooks.server import main
from webhooks.server.app import DEFAULT_MAX_BODY_BYTES


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--local",
        action="store_true",
        help="serve on 127.0.0.1 with self-generated certificates in --certs-dir (no cluster)",
    )
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (not --local)")
    parser.add_argument("--port", type=int, default=9443)
    parser.add_argument("--certs-dir", type=Path, default=Path("certs/local"))
    parser.add_argument("--tls-cert-file", type=Path, help="serve this certificate (hot-reloaded)")
    parser.add_argument("--tls-key-file", type=Path, help="the key of --tls-cert-file")
    parser.add_argument(
        "--cert-poll-seconds", type=float, default=2.0, help="how often certificate files are checked"
    )
    parser.add_argument(
        "--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES, help="413 above this"
    )


def run(args: argparse.Namespace) -> int:
    if args.local:
        main.serve_local(args.port, args.certs_dir)
        return 0
    if args.tls_cert_file is None or args.tls_key_file is None:
        raise SystemExit("serve: give --local, or --tls-cert-file and --tls-key-file")
    settings = main.ServerSettings(
        host=args.host,
        port=args.port,
        cert_file=args.tls_cert_file,
        key_file=args.tls_key_file,
        max_body_bytes=args.max_body_bytes,
        cert_poll_seconds=args.cert_poll_seconds,
    )
    asyncio.run(main.serve_files(settings))
    return 0
