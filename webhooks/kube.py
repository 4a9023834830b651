"""The one door to the Kubernetes API: the few calls the webhooks make, on plain JSON dicts.

Objects are read raw (`_preload_content=False`) rather than through the client's models: a model
drops fields it does not know, and we never want to write back less than we read. Every call is
blocking; async callers run them with `asyncio.to_thread`.
"""

import base64
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import urllib3
from kubernetes import client, config

logger = logging.getLogger(__name__)

Object = dict[str, Any]
WebhookKind = Literal["mutatingwebhookconfigurations", "validatingwebhookconfigurations"]
MUTATING: WebhookKind = "mutatingwebhookconfigurations"
VALIDATING: WebhookKind = "validatingwebhookconfigurations"
TIMEOUT_SECONDS = 10.0


class KubeError(Exception):
    """A failed API call: `status` is the HTTP status (0 when the server was not reached)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


class NotFound(KubeError):
    pass


class AlreadyExists(KubeError):
    pass


class Conflict(KubeError):
    pass


def connect(kubeconfig: Path | None = None) -> client.ApiClient:
    """A client from `kubeconfig`, else the in-cluster service account, else ~/.kube/config.

    Raises KubeError (status 0, reason "NoCredentials") saying which source failed and why."""
    configuration = client.Configuration()
    source = str(kubeconfig) if kubeconfig is not None else "in-cluster config or ~/.kube/config"
    try:
        if kubeconfig is not None:
            config.load_kube_config(str(kubeconfig), client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            try:
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            except config.ConfigException:
                config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except Exception as error:  # the loader raises YAML, OS, key and its own errors alike
        detail = " ".join(str(error).split())  # one line: YAML errors span several
        message = f"cannot load Kubernetes credentials from {source}: {detail}"
        raise KubeError(0, "NoCredentials", message) from None
    configuration.retries = 1  # our loops retry with backoff; urllib3 must not hide outages
    return client.ApiClient(configuration)


def _error(error: Exception) -> KubeError:
    if not isinstance(error, client.ApiException):
        return KubeError(0, "Unreachable", f"Kubernetes API unreachable: {error}")
    status = int(error.status or 0)
    try:
        body = json.loads(error.body or "{}")
    except ValueError:
        body = {}
    reason = str(body.get("reason") or error.reason or "")
    message = str(body.get("message") or error.body or error.reason or "")
    kind = {"NotFound": NotFound, "AlreadyExists": AlreadyExists, "Conflict": Conflict}
    return kind.get(reason, NotFound if status == 404 else KubeError)(status, reason, message)


def _call(method: Any, *args: Any, **kwargs: Any) -> Object:
    try:
        response = method(*args, _preload_content=False, _request_timeout=TIMEOUT_SECONDS, **kwargs)
    except (client.ApiException, urllib3.exceptions.HTTPError, OSError) as error:
        raise _error(error) from None
    document: Object = json.loads(response.data)
    return document


def decode_data(secret: Object) -> dict[str, bytes]:
    """A Secret's `data`, base64-decoded."""
    data: Mapping[str, str] = secret.get("data") or {}
    return {key: base64.b64decode(value) for key, value in data.items()}


def encode_data(data: Mapping[str, bytes]) -> dict[str, str]:
    return {key: base64.b64encode(value).decode() for key, value in data.items()}


class Kube:
    """The calls the certificate controllers make, each mapped to one RBAC verb."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self._core = client.CoreV1Api(api)
        self._admission = client.AdmissionregistrationV1Api(api)
        self._custom = client.CustomObjectsApi(api)

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]

    def read_secret(self, namespace: str, name: str) -> Object | None:
        """get secrets/<name>; None if it does not exist."""
        try:
            return _call(self._core.read_namespaced_secret, name, namespace)
        except NotFound:
            return None

    def create_secret(self, namespace: str, body: Object) -> Object:
        """create secrets; raises AlreadyExists when another writer was first."""
        return _call(self._core.create_namespaced_secret, namespace, body)

    def replace_secret(self, namespace: str, body: Object) -> Object:
        """update secrets/<name>; raises Conflict if metadata.resourceVersion is stale."""
        name = body["metadata"]["name"]
        return _call(self._core.replace_namespaced_secret, name, namespace, body)

    def read_webhook_configuration(self, kind: WebhookKind, name: str) -> Object | None:
        """get <kind>/<name>; None if it does not exist."""
        read = (
            self._admission.read_mutating_webhook_configuration
            if kind == MUTATING
            else self._admission.read_validating_webhook_configuration
        )
        try:
            return _call(read, name)
        except NotFound:
            return None

    def patch_webhook_configuration(
        self, kind: WebhookKind, name: str, operations: list[Object]
    ) -> Object:
        """patch <kind>/<name> with a JSON Patch (a list body is sent as json-patch+json)."""
        patch = (
            self._admission.patch_mutating_webhook_configuration
            if kind == MUTATING
            else self._admission.patch_validating_webhook_configuration
        )
        return _call(patch, name, operations, _content_type="application/json-patch+json")

    def dry_run_create(
        self, group: str, version: str, namespace: str, plural: str, body: Object
    ) -> Object:
        """create <plural> with dryRun=All: runs admission, stores nothing."""
        create = self._custom.create_namespaced_custom_object
        return _call(create, group, version, namespace, plural, body, dry_run="All")


def server_version(api: client.ApiClient) -> tuple[int, int] | None:
    """The apiserver's (major, minor), or None if it cannot be read or parsed."""
    try:
        info = _call(client.VersionApi(api).get_code)
        # Some distributions report minor as "31+".
        return int(info["major"]), int(str(info["minor"]).rstrip("+"))
    except (KubeError, KeyError, TypeError, ValueError) as error:
        logger.warning("cannot read the Kubernetes server version", extra={"error": str(error)})
        return None
