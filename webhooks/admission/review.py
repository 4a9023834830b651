"""AdmissionReview models for admission.k8s.io/v1 and v1beta1.

Embedded objects (`object`, `oldObject`, `options`) stay plain dicts: a model round-trip
would default or drop fields and turn into spurious patch operations.
"""

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ApiVersion = Literal["admission.k8s.io/v1", "admission.k8s.io/v1beta1"]
Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class GroupVersionKind(_Model):
    group: str = ""
    version: str = ""
    kind: str = ""


class GroupVersionResource(_Model):
    group: str = ""
    version: str = ""
    resource: str = ""


class UserInfo(_Model):
    username: str = ""
    uid: str = ""
    groups: list[str] = Field(default_factory=list)


class AdmissionRequest(_Model):
    uid: str = Field(min_length=1)
    kind: GroupVersionKind = Field(default_factory=GroupVersionKind)
    resource: GroupVersionResource = Field(default_factory=GroupVersionResource)
    sub_resource: str = Field(default="", alias="subResource")
    request_kind: GroupVersionKind | None = Field(default=None, alias="requestKind")
    name: str = ""
    namespace: str = ""
    operation: Operation = "CREATE"
    user_info: UserInfo = Field(default_factory=UserInfo, alias="userInfo")
    object: dict[str, Any] | None = None
    old_object: dict[str, Any] | None = Field(default=None, alias="oldObject")
    options: dict[str, Any] | None = None
    dry_run: bool = Field(default=False, alias="dryRun")

    @property
    def object_name(self) -> str:
        """The name to show in logs: a pod being created may only have a generateName."""
        if self.name:
            return self.name
        metadata = (self.object or {}).get("metadata") or {}
        if not isinstance(metadata, dict):
            return ""
        return str(metadata.get("name") or metadata.get("generateName") or "")


class Status(_Model):
    code: int | None = None
    message: str = ""
    reason: str | None = None


class AdmissionResponse(_Model):
    uid: str
    allowed: bool
    status: Status | None = None
    patch: str | None = None
    patch_type: Literal["JSONPatch"] | None = Field(default=None, alias="patchType")
    warnings: list[str] | None = None
    # Kubernetes adds these to the request's audit event, each key prefixed with the webhook's name.
    audit_annotations: dict[str, str] | None = Field(default=None, alias="auditAnnotations")


class AdmissionReview(_Model):
    api_version: ApiVersion = Field(alias="apiVersion")
    kind: Literal["AdmissionReview"] = "AdmissionReview"
    request: AdmissionRequest | None = None
    response: AdmissionResponse | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


AdmissionHandler = Callable[[AdmissionRequest], AdmissionResponse]
"""A webhook core: a pure function from request to response. It never sees HTTP."""


def answer(api_version: ApiVersion, response: AdmissionResponse) -> AdmissionReview:
    """Wrap a response in a review of the same apiVersion as the request, as the apiserver wants."""
    return AdmissionReview(api_version=api_version, response=response)
