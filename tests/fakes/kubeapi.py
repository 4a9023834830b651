"""A FAKE Kubernetes API server, in-process over HTTP, for unit and integration tests only.

It serves the few resources the certificate controllers use, with the semantics they rely on:
Secrets (create → 409 AlreadyExists, update → 409 Conflict on a stale resourceVersion, immutable
type), the two webhook configuration kinds (get, create, JSON/merge patch, update), and
dry-run creates of Istio Gateways, which call the validating webhooks whose objectSelector
selects them for real, over TLS, with the configured caBundle and failurePolicy. Every request
is recorded as (verb, resource, name) so tests can check the controllers stay within their RBAC.
"""

import base64
import copy
import json
import re
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jsonpatch

from tests import servers
from tests.labels import selects

Object = dict[str, Any]
ADMISSION = "/apis/admissionregistration.k8s.io/v1/"
ROUTES = [
    (re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/(?P<res>secrets)(?:/(?P<name>[^/]+))?$")),
    (
        re.compile(
            r"^/apis/admissionregistration\.k8s\.io/v1/"
            r"(?P<res>mutatingwebhookconfigurations|validatingwebhookconfigurations)"
            r"(?:/(?P<name>[^/]+))?$"
        )
    ),
    (
        re.compile(
            r"^/apis/networking\.istio\.io/(?P<version>[^/]+)/namespaces/(?P<ns>[^/]+)/"
            r"(?P<res>gateways)$"
        )
    ),
]


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status(self) -> Object:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }


@dataclass(frozen=True)
class Call:
    verb: str  # RBAC verb: get, create, update, patch, delete
    resource: str
    name: str
    dry_run: bool = False


@dataclass
class FakeKubeAPI:
    """Thread-safe object store plus an HTTP front end. Use as a context manager."""

    gateway_crd_installed: bool = True
    version: tuple[str, str] = ("1", "31")
    calls: list[Call] = field(default_factory=list)
    # Runs under the lock before a request is handled (e.g. to make another writer win a race).
    before: Callable[["FakeKubeAPI", Call], None] | None = None
    _objects: dict[tuple[str, str, str], Object] = field(default_factory=dict)
    _revision: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _server: ThreadingHTTPServer | None = None

    # -- direct access for tests (what another actor in the cluster would do) --

    def get(self, resource: str, name: str, namespace: str = "") -> Object | None:
        with self._lock:
            stored = self._objects.get((resource, namespace, name))
            return copy.deepcopy(stored) if stored else None

    def put(self, resource: str, obj: Object, namespace: str = "") -> Object:
        """Create or overwrite without checks, bumping the resourceVersion."""
        with self._lock:
            obj = copy.deepcopy(obj)
            obj.setdefault("metadata", {})["namespace"] = namespace or None
            return self._store(resource, namespace, obj)

    def delete(self, resource: str, name: str, namespace: str = "") -> None:
        with self._lock:
            del self._objects[(resource, namespace, name)]

    def _store(self, resource: str, namespace: str, obj: Object) -> Object:
        self._revision += 1
        metadata = obj.setdefault("metadata", {})
        metadata["resourceVersion"] = str(self._revision)
        if not namespace:
            metadata.pop("namespace", None)
        self._objects[(resource, namespace, metadata["name"])] = obj
        return copy.deepcopy(obj)

    # -- the HTTP server --

    def __enter__(self) -> "FakeKubeAPI":
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                api._serve(self, "GET")

            def do_POST(self) -> None:
                api._serve(self, "POST")

            def do_PUT(self) -> None:
                api._serve(self, "PUT")

            def do_PATCH(self) -> None:
                api._serve(self, "PATCH")

            def do_DELETE(self) -> None:
                api._serve(self, "DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def write_kubeconfig(self, path: Path) -> Path:
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
            "current-context": "fake",
        }
        path.write_text(json.dumps(kubeconfig))
        return path

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        content_type = handler.headers.get("Content-Type", "")
        try:
            code, body = self._dispatch(
                method, parts.path, parse_qs(parts.query), raw, content_type
            )
        except ApiError as error:
            code, body = error.code, error.status()
        payload = json.dumps(body).encode()
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _dispatch(
        self, method: str, path: str, query: dict[str, list[str]], raw: bytes, content_type: str
    ) -> tuple[int, Object]:
        if path.rstrip("/") == "/version" and method == "GET":
            return 200, {"major": self.version[0], "minor": self.version[1]}
        for route in ROUTES:
            match = route.match(path)
            if match:
                break
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        groups = match.groupdict()
        resource, namespace, name = groups["res"], groups.get("ns") or "", groups.get("name") or ""
        body = json.loads(raw) if raw else None
        if resource == "gateways":
            return self._gateway(method, namespace, query, body)
        verb = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch"}.get(method)
        if verb is None:
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported by the fake")
        if verb == "create":
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "a create needs a JSON object as its body")
            name = body["metadata"]["name"]
        with self._lock:
            call = Call(verb, resource, name)
            self.calls.append(call)
            if self.before:
                self.before(self, call)
            handle = {
                "get": self._get,
                "create": self._create,
                "update": self._update,
                "patch": self._patch,
            }[verb]
            return handle(resource, namespace, name, body, content_type)

    def _existing(self, resource: str, namespace: str, name: str) -> Object:
        stored = self._objects.get((resource, namespace, name))
        if stored is None:
            raise ApiError(404, "NotFound", f'{resource} "{name}" not found')
        return stored

    def _get(self, resource: str, namespace: str, name: str, *_: Any) -> tuple[int, Object]:
        return 200, copy.deepcopy(self._existing(resource, namespace, name))

    def _create(
        self, resource: str, namespace: str, name: str, body: Object, _: str
    ) -> tuple[int, Object]:
        if (resource, namespace, name) in self._objects:
            raise ApiError(409, "AlreadyExists", f'{resource} "{name}" already exists')
        body["metadata"].pop("resourceVersion", None)
        _validate(resource, body)
        return 201, self._store(resource, namespace, body)

    def _update(
        self, resource: str, namespace: str, name: str, body: Object, _: str
    ) -> tuple[int, Object]:
        stored = self._existing(resource, namespace, name)
        wanted = body["metadata"].get("resourceVersion")
        if wanted and wanted != stored["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {resource} "{name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
            )
        if resource == "secrets" and body.get("type", "Opaque") != stored.get("type", "Opaque"):
            raise ApiError(422, "Invalid", f'Secret "{name}" is invalid: type: field is immutable')
        _validate(resource, body)
        return 200, self._store(resource, namespace, body)

    def _patch(
        self, resource: str, namespace: str, name: str, body: Any, content_type: str
    ) -> tuple[int, Object]:
        stored = copy.deepcopy(self._existing(resource, namespace, name))
        if content_type.startswith("application/json-patch+json"):
            try:
                patched = jsonpatch.apply_patch(stored, body)
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as error:
                raise ApiError(422, "Invalid", f"the patch could not be applied: {error}") from None
        else:
            raise ApiError(415, "UnsupportedMediaType", f"the fake does not do {content_type}")
        patched["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"]
        _validate(resource, patched)
        return 200, self._store(resource, namespace, patched)

    def _gateway(
        self, method: str, namespace: str, query: dict[str, list[str]], body: Object | None
    ) -> tuple[int, Object]:
        dry_run = query.get("dryRun") == ["All"]
        name = body["metadata"]["name"] if body is not None else ""
        with self._lock:  # recorded before refusing: tests look for creates without dryRun
            self.calls.append(Call("create", "gateways", name, dry_run))
            if not self.gateway_crd_installed:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            configurations = [
                copy.deepcopy(obj)
                for (res, _, _), obj in self._objects.items()
                if res == "validatingwebhookconfigurations"
            ]
        if method != "POST" or not dry_run or body is None:
            raise ApiError(405, "MethodNotAllowed", "the fake only does dry-run Gateway creates")
        labels = body.get("metadata", {}).get("labels") or {}
        for configuration in configurations:
            for webhook in configuration.get("webhooks") or []:
                if selects(webhook.get("objectSelector"), labels):
                    _admit(webhook, namespace, body)
        return 201, body


def _validate(resource: str, obj: Object) -> None:
    if resource == "secrets":
        data = obj.get("data") or {}
        if obj.get("type") == "kubernetes.io/tls" and not {"tls.crt", "tls.key"} <= set(data):
            raise ApiError(422, "Invalid", "data[tls.crt], data[tls.key]: Required value")
        for key, value in data.items():
            try:
                base64.b64decode(value, validate=True)
            except ValueError:
                raise ApiError(400, "BadRequest", f"data[{key}]: illegal base64") from None
        return
    for webhook in obj.get("webhooks") or []:
        bundle = webhook.get("clientConfig", {}).get("caBundle")
        if bundle is not None:
            base64.b64decode(bundle, validate=True)
        if webhook.get("failurePolicy", "Fail") not in ("Fail", "Ignore"):
            raise ApiError(422, "Invalid", "webhooks[].failurePolicy: Unsupported value")


def _admit(webhook: Object, namespace: str, obj: Object) -> None:
    """Call one validating webhook as the apiserver would; raise on denial or (Fail) error."""
    name = webhook["name"]
    client_config = webhook.get("clientConfig") or {}
    bundle = base64.b64decode(client_config.get("caBundle") or "")
    context = ssl.create_default_context(cadata=bundle.decode()) if bundle else True
    review = servers.admission_review(
        obj,
        uid="fake-apiserver-dry-run",
        kind={"group": "networking.istio.io", "version": "v1", "kind": "Gateway"},
        resource={"group": "networking.istio.io", "version": "v1", "resource": "gateways"},
        namespace=namespace,
        name=obj["metadata"]["name"],
        dryRun=True,
        userInfo={"username": "fake"},
    )
    try:
        reply = httpx.post(client_config["url"], json=review, verify=context, timeout=5)
        reply.raise_for_status()
        response = reply.json()["response"]
    except (httpx.HTTPError, KeyError, ValueError) as error:
        if webhook.get("failurePolicy", "Fail") == "Ignore":
            return
        raise ApiError(
            500,
            "InternalError",
            f'Internal error occurred: failed calling webhook "{name}": {error}',
        ) from None
    if not response.get("allowed"):
        status = response.get("status") or {}
        raise ApiError(
            int(status.get("code") or 400),
            "BadRequest",
            f'admission webhook "{name}" denied the request: {status.get("message", "")}',
        )


def webhook_configuration(kind: str, name: str, webhooks: Iterator[tuple[str, str]]) -> Object:
    """A configuration as a chart would install it: url clientConfigs, no caBundle."""
    singular = {
        "mutatingwebhookconfigurations": "MutatingWebhookConfiguration",
        "validatingwebhookconfigurations": "ValidatingWebhookConfiguration",
    }[kind]
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": singular,
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": hook,
                "clientConfig": {"url": url},
                "failurePolicy": "Ignore" if kind.startswith("validating") else "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "rules": [],
            }
            for hook, url in webhooks
        ],
    }
