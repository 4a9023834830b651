"""A small real app for data-plane tests: HTTP(S) routes, a TCP echo, a gRPC health service.

Run in-process (`AppServers`) or as a process inside a network namespace:
`python -m tests.dataplane.app --http 8080 --tcp 9000`.
"""

import argparse
import json
import socket
import socketserver
import ssl
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


class AppState:
    def __init__(self) -> None:
        self.healthy = True
        self.hits = 0
        self.probe_peers: list[str] = []


class AppHandler(BaseHTTPRequestHandler):
    server: "AppHTTPServer"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        state = self.server.state
        state.hits += 1
        if url.path == "/healthz":
            state.probe_peers.append(self.client_address[0])
            self._send(200 if state.healthy else 500, b"ok\n" if state.healthy else b"sick\n")
        elif url.path == "/fail":
            self._send(500, b"failing on purpose\n")
        elif url.path == "/slow":
            time.sleep(float(query.get("seconds", ["1"])[0]))
            self._send(200, b"slow done\n")
        elif url.path == "/redirect":
            self._send(302, b"", {"Location": "/elsewhere"})
        elif url.path == "/metrics":
            self._send(
                200, f"# TYPE app_hits_total counter\napp_hits_total {state.hits}\n".encode()
            )
        elif url.path == "/peers":
            self._json({"probe_peers": state.probe_peers})
        elif url.path == "/call":
            with urllib.request.urlopen(query["url"][0], timeout=5) as upstream:
                self._send(upstream.status, upstream.read())
        else:
            self._json({"app": "ok", "path": self.path, "peer": self.client_address[0]})

    def do_POST(self) -> None:
        self.server.state.healthy = self.path != "/sick"
        self._send(200, b"toggled\n")

    def _json(self, value: Any) -> None:
        self._send(200, json.dumps(value).encode(), {"Content-Type": "application/json"})

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class AppHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: AppState) -> None:
        super().__init__(address, AppHandler)
        self.state = state


class EchoHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline()
        self.wfile.write(b"echo:" + line)


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def start_grpc_health(host: str, port: int) -> Any:
    """gRPC health: "" SERVING, "down" NOT_SERVING, "slow" answers after 3 s."""
    from concurrent import futures

    import grpc  # type: ignore[import-untyped]
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

    class SlowAwareHealth(health.HealthServicer):  # type: ignore[misc]
        def Check(self, request: Any, context: Any) -> Any:
            if request.service == "slow":
                time.sleep(3)
            return super().Check(request, context)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer = SlowAwareHealth()
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    servicer.set("down", health_pb2.HealthCheckResponse.NOT_SERVING)
    servicer.set("slow", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server.add_insecure_port(f"{host}:{port}")
    server.start()
    return server


@contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def https_server(host: str, port: int, state: AppState, cert: Path, key: Path) -> AppHTTPServer:
    server = AppHTTPServer((host, port), state)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server


def stalled_listener(host: str) -> tuple[socket.socket, list[socket.socket]]:
    """A listener whose accept queue is full: further connects hang (SYNs are dropped)."""
    listener = socket.socket()
    listener.bind((host, 0))
    listener.listen(0)
    fillers = []
    for _ in range(2):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(listener.getsockname())
        fillers.append(filler)
    time.sleep(0.2)
    return listener, fillers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--http", type=int, required=True)
    parser.add_argument("--tcp", type=int)
    args = parser.parse_args()
    if args.tcp:
        echo = EchoServer((args.host, args.tcp), EchoHandler)
        threading.Thread(target=echo.serve_forever, daemon=True).start()
    AppHTTPServer((args.host, args.http), AppState()).serve_forever()


if __name__ == "__main__":
    main()
